"""The annotation_demo command: real questions to the bot, then a sampled batch."""

from __future__ import annotations

from chat.models import Trace
from evaluation.models import (
    AnnotationBatch,
)


def test_the_demo_command_asks_the_bot_real_questions_and_samples_a_batch(db, serving, golden_small, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.ANNOTATION_METRICS_INLINE = True
    out = StringIO()
    call_command("annotation_demo", turns=12, stdout=out)
    batch = AnnotationBatch.objects.get()
    assert batch.items.count() == 12
    assert Trace.objects.count() == 12
    assert all(item.trace.answer for item in batch.items.select_related("trace"))
    assert "12 real turns" in out.getvalue()
    call_command("annotation_demo", turns=12, stdout=out)  # an open batch: nothing more
    assert AnnotationBatch.objects.count() == 1
