"""Writes of the evaluation app: dataset versions, gate thresholds, and offline evaluation runs.

An evaluation run is claimed with a conditional UPDATE (queued → running), so a task delivered
twice runs once; it sends every entry through ``chat.turn.run_turn`` with the serving context of
the release under test (the same code path as a live turn, nothing recorded as production traffic),
then scores, compares with the baseline and applies the gates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from chat.serving import serving_context
from chat.turn import SessionState, run_turn
from evaluation import bertscore, scoring
from evaluation import tasks as evaluation_tasks  # the run task; tasks imports this module back
from evaluation.models import (
    Category,
    DatasetVersion,
    EvalResult,
    EvalRun,
    GoldenDataset,
    GoldenEntry,
    Part,
    RunStatus,
)
from mangaconsole.lib.actors import actor_label as _actor_label
from registry.services import release_gate_record

log = logging.getLogger(__name__)
ENTRY_FIELDS = (
    "key",
    "category",
    "query",
    "turns",
    "expected_intent",
    "reference",
    "required",
    "prohibited",
    "rubric",
    "tags",
    "expect_block",
    "provenance",
    "split",
)
CANARY_PER_STRATUM = 3  # cross-intent canary entries per other stratum when one intent's template changed
PROGRESS_EVERY = 5


class DatasetError(ValueError):
    """A dataset file or change that cannot be accepted; ``problems`` lists each bad row."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


class EvalError(ValueError):
    pass


# ----------------------------------------------------------------------------------- datasets
def entry_content(entry: dict | GoldenEntry) -> dict:
    get = entry.get if isinstance(entry, dict) else lambda k, d=None: getattr(entry, k, d)
    content = {f: get(f, [] if f in ("turns", "required", "prohibited", "tags") else "") for f in ENTRY_FIELDS}
    content["split"] = content["split"] or Part.TEST  # rows from before the split were the gate's: test
    return content


def entries_sha256(entries) -> str:
    canon = sorted((entry_content(e) for e in entries), key=lambda e: e["key"])
    return hashlib.sha256(json.dumps(canon, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def entry_rows_validate(rows: list[dict]) -> list[dict]:
    """Check every row of an import; raise ``DatasetError`` listing every problem (nothing is saved)."""
    problems, clean, keys = [], [], set()
    categories = set(Category.values)
    for i, row in enumerate(rows, start=1):
        where = f"row {i}" + (f" ({row.get('key')})" if isinstance(row, dict) and row.get("key") else "")
        if not isinstance(row, dict):
            problems.append(f"{where}: not an object")
            continue
        key = str(row.get("key", "")).strip()
        if not key:
            problems.append(f"{where}: key is missing")
        elif key in keys:
            problems.append(f"{where}: key {key} appears twice")
        keys.add(key)
        if row.get("category") not in categories:
            problems.append(f"{where}: category {row.get('category')!r} is not one of {', '.join(sorted(categories))}")
        if not str(row.get("query", "")).strip():
            problems.append(f"{where}: query is empty")
        if not str(row.get("reference", "")).strip():
            problems.append(f"{where}: reference is empty")
        if row.get("split") not in (None, "", *Part.values):
            problems.append(f"{where}: split {row.get('split')!r} is not one of {', '.join(Part.values)}")
        for f in ("turns", "required", "prohibited", "tags"):
            value = row.get(f, [])
            if isinstance(value, str):  # CSV cells hold JSON lists
                try:
                    value = json.loads(value) if value.strip() else []
                except json.JSONDecodeError:
                    problems.append(f"{where}: {f} is not a JSON list")
                    continue
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                problems.append(f"{where}: {f} must be a list of strings")
                continue
            row = {**row, f: value}
        block = row.get("expect_block", False)
        if isinstance(block, str):
            block = block.strip().lower() in ("1", "true", "yes")
        clean.append({**entry_content(row), "key": key, "expect_block": bool(block)})
    if problems:
        raise DatasetError(f"{len(problems)} problem(s); nothing was imported", problems)
    return clean


@transaction.atomic
def dataset_version_create(
    *, dataset: GoldenDataset, rows: list[dict], actor, notes: str = "", retire: list[str] | None = None
) -> DatasetVersion:
    """A new version of ``dataset``: the previous version's entries, minus ``retire`` keys, with
    ``rows`` added or revised (a changed row becomes a new revision under its key). Entries are never
    edited or deleted, so earlier versions and their runs keep their exact content."""
    rows = entry_rows_validate(rows)
    dataset = GoldenDataset.objects.select_for_update().get(pk=dataset.pk)
    previous = dataset.versions.order_by("-number").first()
    members: dict[str, GoldenEntry] = {e.key: e for e in previous.entries.all()} if previous else {}
    retired = sorted(set(retire or []) & set(members))
    unknown = sorted(set(retire or []) - set(members))
    if unknown:
        raise DatasetError(f"cannot retire keys that are not in the current version: {', '.join(unknown[:10])}")
    for key in retired:
        members.pop(key)
    added = []
    for row in rows:
        current = members.get(row["key"]) or (
            GoldenEntry.objects.filter(dataset=dataset, key=row["key"]).order_by("-revision").first()
        )
        if current is not None and entry_content(current) == row:
            members[row["key"]] = current
            continue
        revision = (
            GoldenEntry.objects.filter(dataset=dataset, key=row["key"]).aggregate(m=Max("revision"))["m"] or 0
        ) + 1
        members[row["key"]] = GoldenEntry.objects.create(dataset=dataset, revision=revision, **row)
        added.append(row["key"])
    sha = entries_sha256(members.values())
    if previous is not None and previous.sha256 == sha:
        raise DatasetError(f"nothing changed: the content is version {previous.number} ({sha[:12]})")
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=(previous.number + 1) if previous else 1,
        sha256=sha,
        entry_count=len(members),
        added=added,
        retired=retired,
        notes=notes,
        created_by=_actor_label(actor),
    )
    version.entries.set(members.values())
    audit_record(
        actor=actor,
        action=AuditAction.DATASET_VERSION,
        target_type="evaluation.datasetversion",
        target_id=f"{dataset.name}:v{version.number}",
        before={"version": previous.number, "sha256": previous.sha256} if previous else None,
        after={"version": version.number, "sha256": sha, "entries": len(members)},
        evidence={"added": added[:200], "retired": retired, "added_count": len(added)},
        reason=notes or f"{dataset.name} v{version.number}",
    )
    return version


@transaction.atomic
def dataset_thresholds_update(*, dataset: GoldenDataset, thresholds: dict, actor, reason: str) -> GoldenDataset:
    """Set the gate thresholds of ``dataset`` (audited with before and after)."""
    unknown = set(thresholds) - set(scoring.DEFAULT_THRESHOLDS)
    if unknown:
        raise DatasetError(f"unknown thresholds: {', '.join(sorted(unknown))}")
    if not reason.strip():
        raise DatasetError("say why the thresholds change")
    dataset = GoldenDataset.objects.select_for_update().get(pk=dataset.pk)
    before = {**scoring.DEFAULT_THRESHOLDS, **dataset.thresholds}
    after = {**before, **thresholds}
    if after == before:
        return dataset
    dataset.thresholds = after
    dataset.save(update_fields=["thresholds"])
    audit_record(
        actor=actor,
        action=AuditAction.THRESHOLDS_CHANGE,
        target_type="evaluation.goldendataset",
        target_id=dataset.name,
        before=before,
        after=after,
        reason=reason,
    )
    return dataset


def dataset_default() -> GoldenDataset:
    dataset, _ = GoldenDataset.objects.get_or_create(
        name="golden",
        defaults={
            "description": "MangaAssist golden dataset (seed US-3.1 strata plus the adversarial subset).",
            "thresholds": dict(scoring.DEFAULT_THRESHOLDS),
        },
    )
    return dataset


# -------------------------------------------------------------------------------------- runs
def scope_entries(version: DatasetVersion, intent: str = "", part: str = Part.TEST) -> tuple[list[GoldenEntry], str]:
    """The entries a run scores: one part of the dataset (test by default, the frozen part the gate
    reports; dev for tuning), all of it or one intent's subset plus a small cross-intent canary
    (US-2.4), chosen deterministically so two runs of one scope score the same entries."""
    if part not in Part.values:
        raise EvalError(f"part {part!r} is not one of {', '.join(Part.values)}")
    everything = version.entries.order_by("key")
    entries = list(everything.filter(split=part))
    if not entries:
        raise EvalError(f"{version} has no {part} entries")
    label = "frozen: what the gate reports" if part == Part.TEST else "the part to tune on"
    if not intent:
        return entries, f"Golden {part} part: all {len(entries)} {part} entries of {version} ({label})."
    own = [e for e in entries if e.expected_intent == intent]
    if not own:
        raise EvalError(f"the {part} part of {version} has no entry whose expected intent is {intent!r}")
    canary = []
    for cat in Category.values:
        others = sorted(
            (e for e in entries if e.category == cat and e.expected_intent != intent),
            key=lambda e: hashlib.sha256(e.key.encode()).hexdigest(),
        )
        canary += others[:CANARY_PER_STRATUM]
    note = (
        f"Golden {part} part ({label}). "
        f"Only the {intent!r} template changed: {len(own)} {intent} entries plus a cross-intent canary of "
        f"{len(canary)} ({CANARY_PER_STRATUM} per other stratum); the other "
        f"{len(entries) - len(own) - len(canary)} of the {len(entries)} entries were not run."
    )
    return sorted(own + canary, key=lambda e: e.key), note


@transaction.atomic
def eval_run_create(
    *,
    release,
    actor,
    baseline=None,
    intent: str = "",
    part: str = Part.TEST,
    dataset_version=None,
    prompt_version=None,
    queue: bool = True,
) -> EvalRun:
    """Queue an evaluation of ``release`` (the Celery task starts after commit; ``queue=False`` when
    the caller runs it in process, as ``run_eval`` does)."""
    if dataset_version is None:
        dataset_version = dataset_default().versions.order_by("-number").first()
    if dataset_version is None:
        raise EvalError("the golden dataset has no version yet: run `manage.py seed_demo` (or load_golden)")
    entries, note = scope_entries(dataset_version, intent, part)
    run = EvalRun.objects.create(
        part=part,
        dataset_version=dataset_version,
        release=release,
        baseline=baseline if baseline is not None and baseline.pk != release.pk else None,
        intent=intent,
        prompt_version=prompt_version,
        thresholds={**scoring.DEFAULT_THRESHOLDS, **dataset_version.dataset.thresholds},
        total=len(entries),
        scope_note=note,
        triggered_by=_actor_label(actor),
    )
    audit_record(
        actor=actor,
        action=AuditAction.EVAL_RUN,
        target_type="evaluation.evalrun",
        target_id=run.pk,
        after={"status": "queued", "release": release.number, "baseline": baseline.number if baseline else None},
        reason=note,
    )
    if queue:
        transaction.on_commit(lambda: evaluation_tasks.eval_run_task.delay(run.pk))
    return run


def _claim(run_id: int) -> bool:
    return (
        EvalRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=timezone.now(), stage="pipeline"
        )
        == 1
    )


def _answer_entries(entries, ctx, *, on_progress=None) -> list[dict]:
    """Every entry through the real pipeline of ``ctx``'s release (earlier turns first for multi-turn)."""
    out = []
    for i, entry in enumerate(entries, start=1):
        state = SessionState(uuid.uuid4(), None, 100_000)
        for earlier in entry.turns:
            run_turn(state, earlier, record=False, ctx=ctx)
        t0 = time.perf_counter()
        result = run_turn(state, entry.query, record=False, ctx=ctx)
        out.append(
            {
                "answer": result.answer,
                "predicted_intent": result.turn.intent,
                "sources": len(result.turn.hits),
                "verdict": result.outcome.verdict,
                "latency_ms": round((time.perf_counter() - t0) * 1000, 2),
                "cost_usd": Decimal(str(result.payload.get("cost_usd", 0))),
                "prompt": result.turn.prompt.version[:120],
            }
        )
        if on_progress and (i % PROGRESS_EVERY == 0 or i == len(entries)):
            on_progress(i)
    return out


def _score(entries, answers, thresholds) -> list[dict]:
    refs = [e.reference for e in entries]
    cands = [a["answer"] for a in answers]
    scored_idx = [i for i, e in enumerate(entries) if not e.expect_block]
    bs = bertscore.score([cands[i] for i in scored_idx], [refs[i] for i in scored_idx])
    bs_by = dict(zip(scored_idx, bs, strict=True))
    rl = scoring.rouge_l(cands, refs)
    rows = []
    for i, (e, a) in enumerate(zip(entries, answers, strict=True)):
        missing, found = scoring.elements(a["answer"], e.required, e.prohibited)
        issues = scoring.format_issues(a["answer"], intent=a["predicted_intent"], sources=a["sources"])
        row = {
            **a,
            "entry_id": e.pk,
            "key": e.key,
            "category": e.category,
            "expected_intent": e.expected_intent,
            "expect_block": e.expect_block,
            "intent_correct": (a["predicted_intent"] == e.expected_intent) if e.expected_intent else None,
            "bertscore": bs_by.get(i),
            "rouge_l": rl[i],
            "format_ok": not issues,
            "format_issues": issues,
            "required_missing": missing,
            "required_total": len(e.required),
            "prohibited_found": found,
            "guardrail_ok": scoring.guardrail_ok(a["verdict"], expect_block=e.expect_block),
            "length": len(a["answer"]),
            "cost_usd": float(a["cost_usd"]),
        }
        row["failures"] = scoring.entry_failures(row, thresholds)
        rows.append(row)
    return rows


class FrozenPart(EvalError):
    """A tuning command asked for the golden test part."""


def tuning_entries(version: DatasetVersion, *, part: str = Part.DEV, category: str = "") -> list[GoldenEntry]:
    """The entries a tuning command may read: the dev part only (issue 18). The test part is what the
    gate reports; tuning on it would make the gate's figure a training figure."""
    if part != Part.DEV:
        raise FrozenPart(
            f"the golden {part} part is frozen: tuning commands read the dev part only (run_eval reports the test part)"
        )
    entries = list(version.entries.filter(split=Part.DEV).order_by("key"))
    if category:
        entries = [e for e in entries if e.category == category]
    if not entries:
        raise EvalError(f"the dev part of {version} has no entries" + (f" in {category!r}" if category else ""))
    return entries


def entries_score(entries, ctx, thresholds: dict | None = None) -> list[dict]:
    """Answer ``entries`` through ``ctx`` (a serving context, possibly with an overridden component
    config) and score them, without recording a run: what tuning commands compare."""
    return _score(entries, _answer_entries(entries, ctx), {**scoring.DEFAULT_THRESHOLDS, **(thresholds or {})})


def _baseline_rows(run: EvalRun, entries, stage_seconds: dict, thresholds) -> tuple[list[dict], EvalRun | None]:
    """Per-entry results of the baseline release on the same entries: from an earlier finished run of
    it on this dataset version when one covers them, else by running it now."""
    if run.baseline is None:
        return [], None
    wanted = {e.pk for e in entries}
    for prior in EvalRun.objects.filter(
        release=run.baseline, dataset_version=run.dataset_version, status__in=[RunStatus.PASSED, RunStatus.FAILED]
    ).order_by("-finished_at"):
        results = {r.entry_id: r for r in prior.results.all()}
        if wanted <= set(results):
            return [
                {"entry_id": r.entry_id, "bertscore": r.bertscore, "rouge_l": r.rouge_l, "failures": r.failures}
                for eid, r in results.items()
                if eid in wanted
            ], prior
    t0 = time.perf_counter()
    answers = _answer_entries(entries, serving_context(run.baseline))
    rows = _score(entries, answers, thresholds)
    stage_seconds["baseline"] = round(time.perf_counter() - t0, 2)
    return rows, None


def eval_run_execute(run_id: int) -> EvalRun | None:
    """Run a queued evaluation to its verdict. Does nothing if the run is not queued (a duplicate
    delivery, or a finished run). Progress is written every few entries for the live page."""
    if not _claim(run_id):
        return None
    run = EvalRun.objects.select_related("release", "baseline", "dataset_version__dataset").get(pk=run_id)
    try:
        return _execute(run)
    except Exception as exc:
        log.exception("evaluation run %s failed", run_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with transaction.atomic():
            EvalRun.objects.filter(pk=run_id).update(status=RunStatus.ERROR, error=error, finished_at=timezone.now())
            audit_record(
                actor="system:evaluation",
                action=AuditAction.EVAL_RUN,
                target_type="evaluation.evalrun",
                target_id=run_id,
                before={"status": "running"},
                after={"status": "error"},
                reason=error,
            )
        raise


def _execute(run: EvalRun) -> EvalRun:
    entries, _ = scope_entries(run.dataset_version, run.intent, run.part)
    stage_seconds: dict[str, float] = {}
    t = time.perf_counter()
    ctx = serving_context(run.release)

    def progress(done: int) -> None:
        EvalRun.objects.filter(pk=run.pk).update(done=done)

    answers = _answer_entries(entries, ctx, on_progress=progress)
    stage_seconds["pipeline"] = round(time.perf_counter() - t, 2)

    EvalRun.objects.filter(pk=run.pk).update(stage="scoring")
    t = time.perf_counter()
    rows = _score(entries, answers, run.thresholds)
    stage_seconds["scoring"] = round(time.perf_counter() - t, 2)

    EvalRun.objects.filter(pk=run.pk).update(stage="baseline")
    base_rows, base_run = _baseline_rows(run, entries, stage_seconds, run.thresholds)
    base_by = {r["entry_id"]: r for r in base_rows}
    regressed, improved = [], []
    for row in rows:
        b = base_by.get(row["entry_id"])
        if b is None:
            continue
        row["baseline_bertscore"] = b["bertscore"]
        if row["failures"] and not b["failures"]:
            regressed.append(row["key"])
        elif b["failures"] and not row["failures"]:
            improved.append(row["key"])

    metrics = scoring.run_metrics(rows)
    scored_base = [b["rouge_l"] for b in base_rows if b["rouge_l"] is not None and not _is_block(b, rows)]
    baseline_rouge = sum(scored_base) / len(scored_base) if scored_base else None
    metrics["baseline_rouge_l"] = baseline_rouge
    metrics["regressed"], metrics["improved"] = regressed, improved
    gates = scoring.gates_evaluate(metrics, run.thresholds, baseline_rouge_l=baseline_rouge)
    passed = all(g.passed for g in gates)
    stage_seconds["total"] = round(sum(stage_seconds.values()), 2)

    with transaction.atomic():
        EvalResult.objects.bulk_create(
            EvalResult(
                run=run,
                entry_id=r["entry_id"],
                answer=r["answer"],
                predicted_intent=r["predicted_intent"],
                intent_correct=r["intent_correct"],
                bertscore=r["bertscore"],
                rouge_l=r["rouge_l"],
                format_ok=r["format_ok"],
                required_missing=r["required_missing"],
                prohibited_found=r["prohibited_found"],
                guardrail_verdict=r["verdict"],
                guardrail_ok=r["guardrail_ok"],
                length=r["length"],
                latency_ms=r["latency_ms"],
                cost_usd=Decimal(str(r["cost_usd"])),
                prompt=r["prompt"],
                failures=r["failures"],
            )
            for r in rows
        )
        EvalRun.objects.filter(pk=run.pk).update(
            status=RunStatus.PASSED if passed else RunStatus.FAILED,
            stage="done",
            done=len(rows),
            metrics=metrics,
            gates=[g.as_dict() for g in gates],
            stage_seconds=stage_seconds,
            baseline_run=base_run,
            finished_at=timezone.now(),
        )
        # The release's gate verdict lives on the release, where experiments and canaries read it.
        release_gate_record(release=run.release, run_id=run.pk, passed=passed)
        audit_record(
            actor="system:evaluation",
            action=AuditAction.EVAL_RUN,
            target_type="evaluation.evalrun",
            target_id=run.pk,
            before={"status": "running"},
            after={"status": "passed" if passed else "failed", "release": run.release.number},
            evidence={
                "gates": {g.name: {"value": g.value, "passed": g.passed} for g in gates},
                "dataset": f"{run.dataset_version} ({run.dataset_version.sha256[:12]})",
                "entries": len(rows),
                "regressed": regressed[:50],
                "release_gate": {"release": run.release.number, "status": "passed" if passed else "failed"},
            },
            reason=run.scope_note,
        )
    run.refresh_from_db()
    return run


def _is_block(base_row: dict, rows: list[dict]) -> bool:
    match = next((r for r in rows if r["entry_id"] == base_row["entry_id"]), None)
    return bool(match and match["expect_block"])
