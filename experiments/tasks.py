from celery import shared_task

from experiments.services import experiments_check_running


@shared_task(bind=True, ignore_result=True)
def experiments_check_task(self) -> None:
    """Every 30 s: analyse running experiments; stop on significance or guardrail harm (US-8.5)."""
    experiments_check_running()
