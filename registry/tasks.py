from celery import shared_task

from registry.services import rollback_followup, rollbacks_resume


@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=10)
def rollback_followup_task(self, rollback_id: int) -> int | None:
    """Evaluate the restored release, alert, record the result; safe to run twice."""
    from registry.models import Rollback

    try:
        return rollback_followup(rollback_id).state
    except Rollback.DoesNotExist:  # its transaction never committed: nothing to follow up
        return None


@shared_task(bind=True, ignore_result=True)
def rollbacks_resume_task(self) -> None:
    rollbacks_resume()
