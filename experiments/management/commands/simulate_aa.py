"""python manage.py simulate_aa [--sims 2000] [--looks 200]: A/A experiments looked at after every
batch of sessions; prints how often the sequential test and the fixed Welch test ever call a
difference that is not there. Last line JSON."""

import json
import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from experiments.stats import aa_false_positive_rates


class Command(BaseCommand):
    help = "A/A simulation under continuous peeking: sequential vs fixed-horizon false-positive rates."

    def add_arguments(self, parser):
        parser.add_argument("--sims", type=int, default=2000)
        parser.add_argument("--looks", type=int, default=200)
        parser.add_argument("--units-per-look", type=int, default=50)
        parser.add_argument("--rate", type=float, default=0.1)
        parser.add_argument("--alpha", type=float, default=0.05)
        parser.add_argument("--seed", type=int, default=2103)

    def handle(self, *args, sims, looks, units_per_look, rate, alpha, seed, **options):
        floor = int(getattr(settings, "EXPERIMENT_MIN_UNITS_PER_ARM", 500))
        self.stdout.write(
            f"machine: {os.cpu_count()} cores; {sims} A/A experiments, Bernoulli rate {rate}, {looks} looks of "
            f"{units_per_look} sessions per arm (up to {looks * units_per_look} per arm), alpha {alpha}, "
            f"no decision before {floor} sessions per arm, relative effect"
        )
        started = time.perf_counter()
        result = aa_false_positive_rates(
            sims=sims, looks=looks, units_per_look=units_per_look, rate=rate, alpha=alpha, seed=seed, min_units=floor
        )
        self.stdout.write(
            f"false-positive rate: sequential {result['sequential_fpr']:.2%} (≤ {alpha:.0%}); "
            f"fixed test peeked at every look {result['fixed_fpr']:.2%}; fixed test at the last look only "
            f"{result['fixed_fpr_last_look_only']:.2%}  ({time.perf_counter() - started:.1f} s)"
        )
        self.stdout.write(json.dumps(result))
