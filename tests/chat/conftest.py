"""A small serving setup for chat tests: a trained intent model (once per session), a knowledge
base built from a subset of the real data files, and a production release naming them."""

import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from chat import intent


@pytest.fixture(scope="session")
def intent_artifact(tmp_path_factory) -> dict:
    result = intent.train(settings.DATA_DIR / "intents.jsonl")
    path = tmp_path_factory.mktemp("artifacts") / "intent.pkl"
    return {
        "path": path,
        "sha256": intent.save(result.model, path),
        "metrics": result.metrics,
        "dataset_hash": result.dataset_hash,
    }


@pytest.fixture
def kb_dir(tmp_path) -> Path:
    """A copy of the data folder with the catalog cut to ~40 products (fast to embed)."""
    root = tmp_path / "data"
    shutil.copytree(settings.DATA_DIR / "knowledge", root / "knowledge")
    catalog = json.loads((settings.DATA_DIR / "catalog.json").read_text())

    def pick(prefix, n):
        return [p for p in catalog if p["title"].startswith(prefix)][:n]

    subset = pick("Berserk Deluxe", 20) + pick("Berserk,", 5) + pick("Chainsaw Man", 10) + pick("One Piece", 6)
    (root / "catalog.json").write_text(json.dumps(subset))
    return root


@pytest.fixture
def serving(db, settings, intent_artifact, kb_dir):
    """Production release 1: trained intent model, default embedder/reranker/local responder, KB ingested."""
    from chat.ingest import kb_ingest
    from chat.pipeline import _serving_cache
    from chat.retrieval import reset_index
    from registry.models import ComponentKind
    from registry.services import component_version_register, production_bootstrap, registry_defaults_ensure

    settings.KB_SOURCE_DIR = kb_dir
    registry_defaults_ensure(actor="system:test")
    component_version_register(
        kind=ComponentKind.INTENT_CLASSIFIER,
        actor="system:test",
        framework="sklearn",
        artifact_uri=str(intent_artifact["path"]),
        artifact_sha256=intent_artifact["sha256"],
        metrics=intent_artifact["metrics"],
        dataset_hash=intent_artifact["dataset_hash"],
    )
    release = production_bootstrap(actor="system:test")
    run = kb_ingest(embedder_version="embedder:v1", root=kb_dir)
    _serving_cache.clear()
    reset_index()
    from django.core.cache import cache

    cache.clear()
    yield {"release": release, "run": run, "root": kb_dir}
    _serving_cache.clear()
    reset_index()
