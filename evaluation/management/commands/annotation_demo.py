"""python manage.py annotation_demo [--turns 120]

Demo data for the weekly human evaluation: asks the live bot --turns real shopper questions (the
golden dataset's queries, through ``run_turn``, so every answer, citation and trace is the bot's
own), leaves a thumbs up or down on about half of them as shoppers do, and samples a batch from the
last day for the demo annotators. Idempotent: does nothing while an open batch exists.
"""

import random
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.test import override_settings
from django.utils import timezone

from chat.sessions import feedback_save
from chat.turn import SessionState, run_turn
from evaluation.annotation.rubric import AnnotationError
from evaluation.annotation.services import batch_create
from evaluation.models import AnnotationBatch, GoldenEntry


class Command(BaseCommand):
    help = "Ask the bot real questions and sample a human-evaluation batch from its answers (demo data)."

    def add_arguments(self, parser):
        parser.add_argument("--turns", type=int, default=120)
        parser.add_argument("--seed", type=int, default=8)

    def handle(self, *args, turns, seed, **options):
        if AnnotationBatch.objects.filter(status=AnnotationBatch.Status.OPEN).exists():
            self.stdout.write("An annotation batch is open already: nothing to do.")
            return
        rng = random.Random(seed)
        single_turn = GoldenEntry.objects.exclude(category="adversarial").values_list("query", "turns")
        queries = sorted({q for q, earlier in single_turn if not earlier})
        if not queries:
            self.stdout.write(self.style.WARNING("No golden dataset: run `manage.py seed_demo` first."))
            return
        start = timezone.now() - timedelta(seconds=1)
        answered = 0
        with override_settings(CHAT_TRACE_WRITES_INLINE=True):
            for i in range(turns):
                state = SessionState(session_id=uuid.uuid4(), user_id=None, budget=settings.CHAT_SESSION_TOKEN_BUDGET)
                result = run_turn(state, rng.choice(queries))
                answered += 1
                if rng.random() < 0.5:
                    value = "up" if rng.random() < 0.7 else "down"
                    feedback_save(state, result.turn.message_id, value, "", {})
                if (i + 1) % 20 == 0:
                    self.stdout.write(f"  {i + 1}/{turns} turns")
        try:
            batch = batch_create(
                actor="system:annotation_demo",
                start=start,
                end=timezone.now() + timedelta(seconds=1),
                size=min(settings.ANNOTATION_SAMPLE_SIZE, 60),
                name="Demo batch (today's answers)",
            )
        except AnnotationError as exc:
            self.stdout.write(self.style.WARNING(f"No batch: {exc}"))
            return
        self.stdout.write(
            f"{answered} real turns; batch “{batch.name}” with {batch.items.count()} items "
            f"({batch.items.filter(needed=2).count()} scored twice). Annotators: /annotate/ (annotator, annotator2); "
            "quality lead: /annotate/batches/ (quality)."
        )
