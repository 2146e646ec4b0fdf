"""python manage.py simulate_traffic --experiment <id> --sessions N --effect thumbs_up=0.10 [...]

Drives sessions through the real assignment and event paths (and, with --ws-url, a sample through
the real WebSocket of a running server), analysing as the beat task does every --check-every
sessions, until the experiment decides or the sessions run out. Last line: JSON."""

import json

from django.core.management.base import BaseCommand, CommandError

from experiments.management.simulation import parse_effects, simulate
from experiments.models import Experiment


class Command(BaseCommand):
    help = "Simulate sessions for a running experiment, with a true effect on the non-control arms."

    def add_arguments(self, parser):
        parser.add_argument("--experiment", type=int, required=True)
        parser.add_argument("--sessions", type=int, default=5000)
        parser.add_argument("--effect", action="append", default=[], help="metric=relative lift, e.g. thumbs_up=0.10")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--ws-url", default="", help="e.g. ws://127.0.0.1:8000/ws/chat/ (a running server)")
        parser.add_argument("--ws-sample", type=int, default=0, help="how many sessions go over the WebSocket")
        parser.add_argument("--check-every", type=int, default=250)
        parser.add_argument("--pause", type=float, default=0.0, help="seconds between checks (to watch it live)")

    def handle(self, *args, experiment, sessions, effect, seed, ws_url, ws_sample, check_every, pause, **options):
        found = Experiment.objects.filter(pk=experiment).first()
        if found is None:
            raise CommandError(f"no experiment {experiment}")
        if found.status != Experiment.Status.RUNNING:
            raise CommandError(f"experiment {experiment} is {found.get_status_display().lower()}: start it first")
        try:
            effects = parse_effects(effect)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        def progress(p):
            primary = p["result"]["metrics"][found.primary_metric]
            arms = " · ".join(
                f"{k}: n={row['n']} mean={row['mean']:.3f}"
                + (f" effect={row['test']['effect']:+.1%} p={row['test']['p_value']:.4f}" if row.get("test") else "")
                for k, row in primary.items()
            )
            self.stdout.write(f"{p['sessions']:>7} sessions · {arms} · {p['result']['verdict']} · {p['status']}")

        self.stdout.write(f"experiment {found.pk} {found.name!r}: {sessions} sessions, effects {effects or 'none'}")
        done = simulate(
            found,
            sessions=sessions,
            effects=effects,
            seed=seed,
            ws_url=ws_url,
            ws_sample=ws_sample,
            check_every=check_every,
            pause_s=pause,
            progress=progress,
        )
        found.refresh_from_db()
        self.stdout.write(f"status: {found.get_status_display()} · {found.stop_reason}")
        self.stdout.write(json.dumps({**done, "status": found.status, "stop_reason": found.stop_reason}))
