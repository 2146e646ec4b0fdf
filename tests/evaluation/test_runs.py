"""Offline evaluation runs through the real pipeline of a release, and the run_eval CI gate."""

import contextlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from evaluation import bertscore
from evaluation.models import EvalRun, RunStatus
from evaluation.services import dataset_version_create, eval_run_create, eval_run_execute, scope_entries
from tests.conftest import SMALL_GOLDEN


def _run(release, **kw):
    run = eval_run_create(release=release, actor="system:test", queue=False, **kw)
    return eval_run_execute(run.pk)


def test_production_passes_every_gate_and_stores_a_result_per_entry(serving, golden_small):
    run = _run(serving["release"])
    assert run.status == RunStatus.PASSED, run.gates
    assert run.results.count() == 8
    assert run.done == run.total == 8
    m = run.metrics
    assert m["intent_accuracy"] == 1.0
    assert m["bertscore"] >= bertscore.gate()
    assert m["guardrail_pass_rate"] == 1.0
    assert m["adversarial_block_rate"] == 1.0
    assert m["prohibited_answers"] == 0
    assert set(m["per_class_f1"]) >= {"faq", "product_question", "chitchat"}
    assert {"pipeline", "scoring"} <= set(run.stage_seconds)
    answer = run.results.get(entry__key="product-question-001")
    assert "$14.99" in answer.answer
    assert answer.required_missing == []
    assert answer.prompt.startswith("product_question@")


def test_a_second_delivery_of_the_task_does_nothing(serving, golden_small):
    run = eval_run_create(release=serving["release"], actor="t", queue=False)
    assert eval_run_execute(run.pk) is not None
    assert eval_run_execute(run.pk) is None
    assert EvalRun.objects.get(pk=run.pk).results.count() == 8


def test_an_intent_scope_runs_its_subset_plus_a_canary_and_says_so(golden_small):
    entries, note = scope_entries(golden_small, "faq")
    keys = [e.key for e in entries]
    assert {"faq-001", "faq-002", "faq-003"} <= set(keys)
    assert len(keys) == 3 + 5  # one entry in each of the 5 other strata present (3 per stratum at most)
    assert "Only the 'faq' template changed" in note
    assert "were not run" in note


def test_run_eval_exits_0_on_a_passing_release_and_prints_markdown(serving, golden_small, capsys):
    call_command("run_eval", "--release", "production")
    out = capsys.readouterr().out
    assert "gate passed" in out
    assert "| Intent accuracy at least | pass |" in out


def test_run_eval_exits_1_and_names_the_failing_entries(serving, golden_small, capsys):
    from prompts_app.bundle import TemplateSpec
    from prompts_app.services import bundle_for_release
    from registry.models import ComponentKind
    from registry.services import component_version_register, release_create

    # A FAQ template without the citation rule: the local responder stops citing, format fails.
    bad = bundle_for_release(serving["release"]).replaced(
        TemplateSpec("faq", "9.9.9", "Answer briefly.\nQuestion: {{ question }}", ())
    )
    cv = component_version_register(kind=ComponentKind.PROMPT_BUNDLE, actor="t", framework="j2", config=bad.to_config())
    release = release_create(actor="t", versions=[cv], based_on=serving["release"])
    with pytest.raises(SystemExit) as exc:
        call_command("run_eval", "--release", str(release.number), "--baseline", "production", "--format", "json")
    assert exc.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    failed = {g["name"] for g in report["gates"] if not g["passed"]}
    assert "format_compliance_min" in failed
    failing = {f["key"]: f["reasons"] for f in report["failing_entries"]}
    for key in ("faq-001", "faq-002", "faq-003"):
        assert any("no [n] citation" in r for r in failing[key]), key
    # faq-002's production answer already misses the BERTScore gate against its one-line reference,
    # so only the other two go from passing to failing
    assert set(report["metrics"]["regressed"]) >= {"faq-001", "faq-003"}


def test_a_real_celery_worker_runs_an_evaluation(transactional_db, serving, golden_small):
    import time

    from celery.contrib.testing.worker import start_worker

    from mangaconsole.celery import app

    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=20):
        run = eval_run_create(release=serving["release"], actor="t")  # queued on commit
        deadline = time.monotonic() + 120
        while True:
            run.refresh_from_db()
            if run.finished:
                break
            assert time.monotonic() < deadline, f"the worker did not finish the run (status {run.status})"
            time.sleep(0.3)
    assert run.status == RunStatus.PASSED
    assert run.results.count() == 8


def test_a_run_that_crashes_is_marked_error_with_the_reason_and_audited(serving, golden_small, monkeypatch):
    from audit.models import AuditAction, AuditEntry
    from evaluation import services

    def boom(*args, **kwargs):
        raise RuntimeError("scorer exploded")

    monkeypatch.setattr(services, "_score", boom)
    run = eval_run_create(release=serving["release"], actor="t", queue=False)
    with pytest.raises(RuntimeError):
        eval_run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.ERROR
    assert "scorer exploded" in run.error
    entry = AuditEntry.objects.filter(action=AuditAction.EVAL_RUN).latest("sequence")
    assert entry.after == {"status": "error"}


def test_run_eval_reports_the_test_part_by_default_and_says_so(serving, golden_small, capsys):
    dev_row = {
        "key": "faq-dev-001",
        "category": "faq",
        "query": "can I change my shipping address after ordering?",
        "expected_intent": "faq",
        "reference": "Yes, within an hour of ordering.",
        "split": "dev",
    }
    dataset_version_create(dataset=golden_small.dataset, rows=[dev_row], actor="t")
    call_command("run_eval", "--release", "production", "--format", "json")
    report = json.loads(capsys.readouterr().out)
    assert report["part"] == "test"
    test_entries = len(SMALL_GOLDEN) + 1  # and the adversarial row
    assert report["scope"].startswith(f"Golden test part: all {test_entries} test entries")
    assert report["progress"]["total"] == test_entries  # the dev entry is not in the gate's figure
    with contextlib.suppress(SystemExit):  # one dev entry: its gate may fail; the part is what is checked
        call_command("run_eval", "--release", "production", "--part", "dev", "--format", "json")
    dev = json.loads(capsys.readouterr().out)
    assert dev["part"] == "dev"
    assert dev["progress"]["total"] == 1


def test_a_tuning_command_refuses_the_test_part_and_tunes_on_dev(serving, golden_small, capsys):
    with pytest.raises(CommandError, match="the golden test part is frozen: tuning commands read the dev part only"):
        call_command("tune_reranker", "--part", "test")
    with pytest.raises(CommandError, match="the dev part of .* has no entries"):
        call_command("tune_reranker")
    rows = [
        {**row, "split": "dev", "key": row["key"] + "-dev"}
        for row in (
            {"key": k, "category": c, "query": q, "expected_intent": i, "reference": r, "required": req}
            for k, c, q, i, r, req in SMALL_GOLDEN[:2]
        )
    ]
    dataset_version_create(dataset=golden_small.dataset, rows=rows, actor="t")
    call_command("tune_reranker", "--values", "0,0.3", "--category", "faq")
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["part"] == "dev"
    assert [g["w_source"] for g in figures["grid"]] == [0.0, 0.3]
    assert all(g["entries"] == 2 for g in figures["grid"])
