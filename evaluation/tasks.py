from celery import shared_task

from evaluation.services import eval_run_execute


@shared_task(bind=True, acks_late=True, max_retries=0)
def eval_run_task(self, run_id: int) -> str:
    """Run a queued evaluation; a second delivery finds it claimed and does nothing."""
    run = eval_run_execute(run_id)
    return run.status if run else "skipped"


@shared_task(acks_late=True)
def annotation_weekly_task() -> str:
    """Beat, Mondays: sample last week's production answers into a human-evaluation batch."""
    from evaluation.annotation import weekly_sample

    batch = weekly_sample()
    return f"batch {batch.pk}: {batch.items.count()} items" if batch else "nothing to sample (or already sampled)"


@shared_task(acks_late=True)
def annotation_metrics_task(batch_id: int) -> int:
    """BERTScore per item of a new batch, saved as it goes so the batch page shows progress."""
    from evaluation.annotation import batch_metrics_compute

    return batch_metrics_compute(batch_id).metrics_done
