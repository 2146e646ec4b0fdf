from celery import shared_task

from chat.ingest import kb_ingest
from registry.selectors import current_embedder_version


@shared_task(bind=True, acks_late=True, max_retries=2, default_retry_delay=60)
def kb_ingest_task(self, sources: list[str], trigger: str = "task") -> int:
    """Incremental ingest of ``sources``; safe to run twice (unchanged documents are skipped)."""
    run = kb_ingest(sources=sources, embedder_version=current_embedder_version(), trigger=trigger)
    return run.pk
