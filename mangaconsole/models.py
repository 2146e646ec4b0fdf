from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the beat-scheduled heartbeat task.

    Operational telemetry, overwritten every 30 s; deliberately not audited (it changes no
    behaviour of the bot and would drown the audit log).
    """

    worker = models.CharField(max_length=200, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
