"""Celery tasks of the rollout layer. Their names keep the ``registry.tasks.*`` form they had before the
move to ``registry.rollout`` (issue 17), so beat rows and queued messages that hold them keep working."""

from celery import shared_task

# Whole modules, not names: deployments and rollback queue these tasks, so each imports this module
# back; a module reference resolves at call time and the import order does not matter.
from registry.models import Rollback
from registry.rollout import deployments, monitoring, rollback


@shared_task(
    bind=True, acks_late=True, max_retries=3, default_retry_delay=10, name="registry.tasks.rollback_followup_task"
)
def rollback_followup_task(self, rollback_id: int) -> int | None:
    """Evaluate the restored release, alert, record the result; safe to run twice."""
    try:
        return rollback.rollback_followup(rollback_id).state
    except Rollback.DoesNotExist:  # its transaction never committed: nothing to follow up
        return None


@shared_task(bind=True, ignore_result=True, name="registry.tasks.rollbacks_resume_task")
def rollbacks_resume_task(self) -> None:
    rollback.rollbacks_resume()


@shared_task(bind=True, ignore_result=True, name="registry.tasks.canary_check_task")
def canary_check_task(self) -> None:
    """Every 30 s: test the active canary's arm against its baseline; roll it back on a breach (US-3.4)."""
    monitoring.canary_check()


@shared_task(bind=True, ignore_result=True, name="registry.tasks.production_guard_task")
def production_guard_task(self) -> None:
    """Every minute: hard thresholds roll production back, soft ones page on-call (US-3.5)."""
    monitoring.production_guard()


@shared_task(bind=True, acks_late=True, ignore_result=True, name="registry.tasks.deployment_stage_task")
def deployment_stage_task(self, deployment_id: int, stage: str) -> str:
    """One pipeline stage; a re-delivery of a started or finished stage does nothing."""
    return deployments.stage_run(deployment_id, stage)


@shared_task(bind=True, ignore_result=True, name="registry.tasks.deployments_unstick_task")
def deployments_unstick_task(self) -> None:
    """Every 5 minutes: fail stages whose worker was lost, so they can be retried."""
    deployments.deployments_unstick()
