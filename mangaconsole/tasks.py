from celery import shared_task

from mangaconsole.services import heartbeat_record


@shared_task(bind=True, ignore_result=True)
def worker_heartbeat(self) -> None:
    heartbeat_record(worker=self.request.hostname or "unknown")
