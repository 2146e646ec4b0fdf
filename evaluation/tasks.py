"""Celery tasks of evaluation. Whole modules, not names: services and annotation queue these tasks, so
each imports this module back; a module reference resolves at call time, in any import order."""

from celery import shared_task

from evaluation import services
from evaluation.annotation import services as annotation


@shared_task(bind=True, acks_late=True, max_retries=0)
def eval_run_task(self, run_id: int) -> str:
    """Run a queued evaluation; a second delivery finds it claimed and does nothing."""
    run = services.eval_run_execute(run_id)
    return run.status if run else "skipped"


@shared_task(acks_late=True)
def annotation_weekly_task() -> str:
    """Beat, Mondays: sample last week's production answers into a human-evaluation batch."""
    batch = annotation.weekly_sample()
    return f"batch {batch.pk}: {batch.items.count()} items" if batch else "nothing to sample (or already sampled)"


@shared_task(acks_late=True)
def annotation_metrics_task(batch_id: int) -> int:
    """BERTScore per item of a new batch, saved as it goes so the batch page shows progress."""
    return annotation.batch_metrics_compute(batch_id).metrics_done
