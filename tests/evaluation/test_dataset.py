import pytest

from audit.models import AuditAction, AuditEntry
from evaluation import bertscore
from evaluation.models import DatasetVersion
from evaluation.services import DatasetError, dataset_thresholds_update, dataset_version_create, entries_sha256


def test_a_bad_import_lists_every_problem_and_saves_nothing(golden_small):
    dataset = golden_small.dataset
    rows = [
        {"key": "x-1", "category": "faq", "query": "", "reference": "r"},
        {"key": "x-2", "category": "nonsense", "query": "q", "reference": "r", "tags": "not json"},
        {"key": "x-2", "category": "faq", "query": "q", "reference": "r"},
    ]
    with pytest.raises(DatasetError) as exc:
        dataset_version_create(dataset=dataset, rows=rows, actor="t")
    text = " | ".join(exc.value.problems)
    assert "row 1 (x-1): query is empty" in text
    assert "category 'nonsense'" in text
    assert "tags is not a JSON list" in text
    assert "key x-2 appears twice" in text
    assert DatasetVersion.objects.filter(dataset=dataset).count() == 1


def test_a_refresh_retires_and_adds_without_losing_history(golden_small):
    dataset = golden_small.dataset
    v1_keys = set(golden_small.entries.values_list("key", flat=True))
    new = {"key": "faq-900", "category": "faq", "query": "do you sell posters?", "reference": "No, only books."}
    changed = {
        "key": "faq-002",
        "category": "faq",
        "query": "is gift wrapping available?",
        "expected_intent": "faq",
        "reference": "Yes, $3.99 an item [1].",
        "required": ["$3.99"],
    }
    v2 = dataset_version_create(dataset=dataset, rows=[new, changed], retire=["faq-003"], actor="t", notes="Q1 refresh")
    assert v2.number == 2
    assert v2.added == ["faq-900", "faq-002"]
    assert v2.retired == ["faq-003"]
    assert set(v2.entries.values_list("key", flat=True)) == (v1_keys - {"faq-003"}) | {"faq-900"}
    assert v2.entries.get(key="faq-002").revision == 2
    # version 1 still holds exactly what it held, revision 1 of faq-002 included
    golden_small.refresh_from_db()
    assert set(golden_small.entries.values_list("key", flat=True)) == v1_keys
    assert golden_small.entries.get(key="faq-002").query == "do you offer gift wrap?"
    assert golden_small.sha256 == entries_sha256(golden_small.entries.all())
    assert v2.sha256 != golden_small.sha256
    assert AuditEntry.objects.filter(action=AuditAction.DATASET_VERSION, target_id="golden:v2").exists()


def test_an_unchanged_import_is_refused(golden_small):
    from evaluation.services import entry_content

    rows = [entry_content(e) for e in golden_small.entries.all()[:1]]
    with pytest.raises(DatasetError, match="nothing changed"):
        dataset_version_create(dataset=golden_small.dataset, rows=rows, actor="t")


def test_threshold_edits_are_audited_with_before_and_after(golden_small):
    dataset = dataset_thresholds_update(
        dataset=golden_small.dataset, thresholds={"bertscore_min": 0.85}, actor="u", reason="tighter after calibration"
    )
    assert dataset.thresholds["bertscore_min"] == 0.85
    entry = AuditEntry.objects.filter(action=AuditAction.THRESHOLDS_CHANGE).latest("sequence")
    assert entry.before["bertscore_min"] == bertscore.gate()
    assert entry.after["bertscore_min"] == 0.85
    with pytest.raises(DatasetError, match="unknown"):
        dataset_thresholds_update(dataset=dataset, thresholds={"vibes_min": 1}, actor="u", reason="x")


def test_the_committed_golden_file_is_stratified_as_the_seed_says():
    import json
    from collections import Counter
    from pathlib import Path

    rows = [json.loads(x) for x in (Path("evaluation/data/golden_v1.jsonl")).read_text().splitlines()]
    counts = Counter(r["category"] for r in rows)
    assert sum(n for c, n in counts.items() if c != "adversarial") >= 500
    assert counts["adversarial"] >= 40
    shares = {
        "recommendation": 0.24,
        "product_question": 0.20,
        "faq": 0.16,
        "order_tracking": 0.12,
        "multi_turn": 0.10,
        "edge_case": 0.08,
        "returns": 0.06,
        "chitchat": 0.04,
    }
    for cat, share in shares.items():
        assert counts[cat] == round(share * 500), cat
    for r in rows:
        assert r["query"]
        assert r["reference"]
        assert isinstance(r["required"], list)
        assert isinstance(r["prohibited"], list)
