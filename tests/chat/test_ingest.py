"""Incremental knowledge-base ingest (US-5.1)."""

import pytest

from chat.ingest import chunk_words, kb_ingest
from chat.models import IngestRun, KnowledgeChunk, KnowledgeDocument
from chat.retrieval import reset_index, retrieve


def _ids(key):
    return set(KnowledgeChunk.objects.filter(document__key=key).values_list("id", flat=True))


def test_the_first_run_logs_what_it_did(serving):
    run = serving["run"]
    assert run.status == IngestRun.Status.SUCCEEDED
    assert run.documents_processed == KnowledgeDocument.objects.count() > 50
    assert run.chunks_created == run.embeddings_generated == KnowledgeChunk.objects.count()
    assert run.errors == []
    chunk = KnowledgeChunk.objects.select_related("document").first()
    assert chunk.embedder_version == "embedder:v1"
    assert len(chunk.embedding) == 384 * 4
    assert chunk.document.path
    assert chunk.title
    assert chunk.created_at


def test_editing_one_policy_reembeds_only_its_chunks(serving):
    root = serving["root"]
    untouched = _ids("policy:shipping") | _ids("faq:deals")
    before = _ids("policy:returns")
    path = root / "knowledge" / "policy" / "returns.md"
    path.write_text(path.read_text().replace("30 days of delivery", "45 days of delivery"))
    run = kb_ingest(embedder_version="embedder:v1", root=root)
    assert run.documents_processed == 1
    assert run.documents_unchanged == KnowledgeDocument.objects.count() - 1
    assert _ids("policy:returns").isdisjoint(before)
    assert _ids("policy:shipping") | _ids("faq:deals") == untouched
    assert "45 days" in " ".join(
        KnowledgeChunk.objects.filter(document__key="policy:returns").values_list("text", flat=True)
    )


def test_a_deleted_file_flags_its_chunks_stale_and_retrieval_skips_them(serving):
    (serving["root"] / "knowledge" / "faq" / "gift-wrap.md").unlink()
    run = kb_ingest(embedder_version="embedder:v1", root=serving["root"])
    assert run.documents_stale == 1
    assert KnowledgeDocument.objects.get(key="faq:gift-wrap").stale
    assert not KnowledgeChunk.objects.filter(document__key="faq:gift-wrap", stale=False).exists()
    reset_index()
    keys = [h.key for h in retrieve("gift wrap price", embedder_version="embedder:v1", intent="faq")]
    assert "faq:gift-wrap" not in keys


def test_a_corrupt_file_is_reported_and_the_rest_is_ingested(serving):
    root = serving["root"]
    (root / "knowledge" / "policy" / "broken.md").write_bytes(b"---\ntitle: x\n---\n\xff\xfe bad bytes")
    (root / "knowledge" / "faq" / "new-question.md").write_text(
        "---\ntitle: Do you sell posters?\n---\nNo, only manga."
    )
    (root / "catalog.json").write_text('[{"asin": "B0BROKEN", ')  # truncated JSON
    catalog_docs = KnowledgeDocument.objects.filter(source="catalog", stale=False).count()
    run = kb_ingest(embedder_version="embedder:v1", root=root)
    assert run.status == IngestRun.Status.FINISHED_WITH_ERRORS
    reasons = {e["path"]: e["reason"] for e in run.errors}
    assert "not UTF-8" in reasons["knowledge/policy/broken.md"]
    assert "cannot read the catalog" in reasons["catalog.json"]
    assert KnowledgeDocument.objects.filter(key="faq:new-question").exists()  # the rest went on
    assert KnowledgeDocument.objects.filter(source="catalog", stale=False).count() == catalog_docs  # nothing lost


def test_chunk_size_and_overlap_are_configurable():
    words = " ".join(f"w{i}" for i in range(25))
    chunks = chunk_words(words, size=10, overlap=4)
    assert [len(c.split()) for c in chunks] == [10, 10, 10, 7]
    assert chunks[1].split()[:4] == chunks[0].split()[-4:]
    with pytest.raises(ValueError, match="overlap"):
        chunk_words(words, size=5, overlap=5)


def test_retrieval_cites_catalog_and_policy_and_admits_ignorance(serving):
    deal = retrieve("any deals on Berserk Deluxe?", embedder_version="embedder:v1", intent="promotion")
    assert deal
    assert deal[0].key.startswith("catalog:")
    assert "Berserk Deluxe" in deal[0].title
    policy = retrieve(
        "what is your return window for damaged volumes?", embedder_version="embedder:v1", intent="return_request"
    )
    assert policy[0].key == "policy:damaged-items"
    assert retrieve("zxqv blorf wug", embedder_version="embedder:v1", intent="faq") == []


def test_a_real_celery_worker_runs_the_ingest_task(transactional_db, serving):
    import time

    from celery.contrib.testing.worker import start_worker

    from chat.tasks import kb_ingest_task
    from mangaconsole.celery import app

    (serving["root"] / "knowledge" / "faq" / "posters.md").write_text("---\ntitle: Do you sell posters?\n---\nNo.")
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=20):
        kb_ingest_task.delay(sources=["faq"], trigger="test-worker")
        deadline = time.monotonic() + 60
        while not IngestRun.objects.filter(trigger="test-worker").exclude(finished_at=None).exists():
            assert time.monotonic() < deadline, "the worker did not finish the ingest task in 60 s"
            time.sleep(0.3)
    run = IngestRun.objects.get(trigger="test-worker")
    assert run.documents_processed == 1
    assert KnowledgeDocument.objects.filter(key="faq:posters").exists()
