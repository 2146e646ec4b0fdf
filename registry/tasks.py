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


@shared_task(bind=True, ignore_result=True)
def canary_check_task(self) -> None:
    """Every 30 s: test the active canary's arm against its baseline; roll it back on a breach (US-3.4)."""
    from registry.monitoring import canary_check

    canary_check()


@shared_task(bind=True, ignore_result=True)
def production_guard_task(self) -> None:
    """Every minute: hard thresholds roll production back, soft ones page on-call (US-3.5)."""
    from registry.monitoring import production_guard

    production_guard()


@shared_task(bind=True, acks_late=True, ignore_result=True)
def deployment_stage_task(self, deployment_id: int, stage: str) -> str:
    """One pipeline stage; a re-delivery of a started or finished stage does nothing."""
    from registry.pipeline import stage_run

    return stage_run(deployment_id, stage)


@shared_task(bind=True, ignore_result=True)
def deployments_unstick_task(self) -> None:
    """Every 5 minutes: fail stages whose worker was lost, so they can be retried."""
    from registry.pipeline import deployments_unstick

    deployments_unstick()
