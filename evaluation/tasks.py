from celery import shared_task

from evaluation.services import eval_run_execute


@shared_task(bind=True, acks_late=True, max_retries=0)
def eval_run_task(self, run_id: int) -> str:
    """Run a queued evaluation; a second delivery finds it claimed and does nothing."""
    run = eval_run_execute(run_id)
    return run.status if run else "skipped"
