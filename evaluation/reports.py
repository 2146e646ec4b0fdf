"""An evaluation run as a Markdown report (for a pull-request comment) or a JSON document (for CI)."""

from __future__ import annotations

from evaluation.models import EvalRun

MAX_LISTED = 40


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def run_failing(run: EvalRun, limit: int | None = MAX_LISTED) -> list[dict]:
    rows = run.results.exclude(failures=[]).select_related("entry").order_by("entry__key")
    rows = rows[:limit] if limit else rows
    return [{"key": r.entry.key, "query": r.entry.query, "reasons": r.failures} for r in rows]


def run_json(run: EvalRun) -> dict:
    return {
        "run": run.pk,
        "status": run.status,
        "passed": run.gate_passed,
        "release": run.release.number,
        "baseline": run.baseline.number if run.baseline else None,
        "dataset": {"version": str(run.dataset_version), "sha256": run.dataset_version.sha256},
        "scope": run.scope_note,
        "part": run.part,
        "progress": {"done": run.done, "total": run.total, "stage": run.stage},
        "gates": run.gates,
        "metrics": {k: v for k, v in run.metrics.items() if k != "by_category"},
        "by_category": run.metrics.get("by_category", {}),
        "stage_seconds": run.stage_seconds,
        "failing_entries": run_failing(run, limit=None) if run.finished else [],
        "error": run.error,
    }


def run_markdown(run: EvalRun) -> str:
    m = run.metrics
    verdict = {"passed": "✅ gate passed", "failed": "❌ gate failed", "error": "⚠️ error"}.get(run.status, run.status)
    lines = [
        f"## Offline evaluation: release {run.release.number}"
        + (f" against baseline {run.baseline.number}" if run.baseline else "")
        + f": {verdict}",
        "",
        f"Dataset **{run.dataset_version}** (sha256 `{run.dataset_version.sha256[:12]}`). {run.scope_note}",
        "",
    ]
    if run.error:
        lines += [f"Error: `{run.error}`", ""]
    if run.gates:
        lines += ["| Gate | Result | Value |", "|---|---|---|"]
        lines += [f"| {g['label']} | {'pass' if g['passed'] else '**FAIL**'} | {g['detail']} |" for g in run.gates]
        lines.append("")
    if m:
        lines += [
            f"Intent accuracy {_pct(m.get('intent_accuracy'))}, macro F1 {_num(m.get('macro_f1'))}, "
            f"BERTScore {_num(m.get('bertscore'))}, ROUGE-L {_num(m.get('rouge_l'))}"
            + (f" (baseline {_num(m.get('baseline_rouge_l'))})" if m.get("baseline_rouge_l") else "")
            + f", format compliance {_pct(m.get('format_compliance'))}, required elements "
            f"{_pct(m.get('required_coverage'))}, guardrail pass rate {_pct(m.get('guardrail_pass_rate'))}, "
            f"prohibited {m.get('prohibited_answers')}, mean length {m.get('mean_length') or 0:.0f} chars, "
            f"latency p50 {m.get('latency_p50_ms')} ms / p95 {m.get('latency_p95_ms')} ms, cost ${m.get('cost_usd')}.",
            "",
        ]
        if m.get("regressed") is not None and run.baseline:
            lines.append(
                f"Against the baseline: **{len(m['regressed'])} regressed** "
                f"({', '.join(m['regressed'][:15]) or 'none'}), {len(m.get('improved', []))} improved."
            )
            lines.append("")
    failing = run_failing(run)
    if failing:
        total = run.results.exclude(failures=[]).count()
        lines += [
            f"### Failing entries ({total}; first {len(failing)})",
            "",
            "| Entry | Query | Why |",
            "|---|---|---|",
        ]
        for f in failing:
            query = f["query"].replace("|", "\\|")[:70]
            lines.append(f"| `{f['key']}` | {query} | {'; '.join(f['reasons']).replace('|', '/')} |")
    return "\n".join(lines) + "\n"
