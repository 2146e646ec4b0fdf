"""Toxicity by a model (issue 19 item 5): alt-profanity-check's trained linear SVM (a kept PyPI
package that ships its model; scikit-learn 1.9.1 and joblib 1.6.0, the versions of our lock).

Before the model reads a message, the manga vocabulary is masked: the catalog's series (registered
by the chat app through ``guardrails.catalog``) and the policy's ``toxicity_allow`` list (titles the
shop may not stock: "Hell's Paradise", "Kill la Kill"). So "how many people die in Hell's
Paradise?" is read as "how many people die in MANGA?". The model scores insults and abuse; explicit
threats ("I'll kill you") are not what it was trained on, so the policy's ``toxicity_terms`` stay as
rules beside it, like the rule pre-filter in front of the classifier of seed 004 US-02.

The blocking threshold is chosen on the development set only (``manage.py eval_toxicity``); the
held-out set (toxicity_test.jsonl, hand-written elsewhere) is read for the report.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from guardrails.catalog import catalog_facts

DEFAULT_THRESHOLD = 0.9
_MASK = "manga"
_lock = threading.Lock()
_VOLUME = re.compile(r",? (?:vol\.|volume|box set|season|part)\b.*$", re.IGNORECASE)


@dataclass(frozen=True)
class _Model:
    """The package's model as one matrix product. alt-profanity-check ships a CalibratedClassifierCV
    of five LinearSVCs with sigmoid calibration; its predict_proba costs ~3 ms a call in
    scikit-learn's per-fold overhead, while the same arithmetic (mean over folds of
    1 / (1 + exp(a·f + b)), f the fold's decision function) is ~0.05 ms.
    ``probabilities(..., exact=True)`` goes through scikit-learn; a test holds the two equal."""

    vectorizer: object
    package_model: object
    weights: np.ndarray  # features × folds
    intercepts: np.ndarray  # folds
    a: np.ndarray  # folds
    b: np.ndarray  # folds

    def predict(self, texts: list[str], *, exact: bool = False) -> np.ndarray:
        x = self.vectorizer.transform(texts)
        if exact:
            return self.package_model.predict_proba(x)[:, 1]
        f = np.asarray(x @ self.weights) + self.intercepts
        return (1.0 / (1.0 + np.exp(self.a * f + self.b))).mean(axis=1)


@lru_cache(maxsize=1)
def _model() -> _Model:
    """The package's vectorizer and calibrated SVM, loaded once (about 1 MB)."""
    with _lock:
        from profanity_check import profanity_check as package  # loads the joblib files on import

    folds = package.model.calibrated_classifiers_
    return _Model(
        vectorizer=package.vectorizer,
        package_model=package.model,
        weights=np.column_stack([f.estimator.coef_.ravel() for f in folds]),
        intercepts=np.array([float(f.estimator.intercept_[0]) for f in folds]),
        a=np.array([float(f.calibrators[0].a_) for f in folds]),
        b=np.array([float(f.calibrators[0].b_) for f in folds]),
    )


@lru_cache(maxsize=32)
def _allow_pattern(phrases: tuple[str, ...]) -> re.Pattern | None:
    words = sorted({p.strip().lower() for p in phrases if p.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


_series_cache: tuple[int, tuple[str, ...]] = (0, ())


def catalog_series() -> tuple[str, ...]:
    """The catalog's series names ("chainsaw man" from "chainsaw man, vol. 3"); () without a catalog.
    Recomputed only when the catalog facts are (every ``catalog.TTL`` seconds)."""
    global _series_cache
    try:
        facts = catalog_facts()
    except RuntimeError:
        return ()
    if _series_cache[0] != id(facts):
        _series_cache = (id(facts), tuple(sorted({_VOLUME.sub("", t).strip() for t, _ in facts.titles})))
    return _series_cache[1]


def mask(text: str, allow: tuple[str, ...]) -> str:
    pattern = _allow_pattern(allow)
    return pattern.sub(_MASK, text) if pattern is not None else text


_STARRED = re.compile(r"(?<=[a-z])[*#@$%!]+(?=[a-z])", re.IGNORECASE)


def views(text: str) -> list[str]:
    """What the model reads: the message, its leetspeak and spaced-out readings ("y0u", "s h u t")
    and, for "f*ck" and "sh!t", each vowel in place of the symbols."""
    from guardrails.injection import variants  # the same readings the injection rules use

    out = [v for _, v in variants(text)[:3]]
    if _STARRED.search(text):
        out += [_STARRED.sub(vowel, text) for vowel in "aeiou"]
    return out


def probabilities(texts: list[str], allow: tuple[str, ...] = (), *, exact: bool = False) -> list[float]:
    """P(toxic) per text: the highest over its readings (``views``), with ``allow`` masked."""
    expanded, owner = [], []
    for i, text in enumerate(texts):
        for view in views(text):
            expanded.append(mask(view, allow))
            owner.append(i)
    scores = _model().predict(expanded, exact=exact)
    best = [0.0] * len(texts)
    for i, p in zip(owner, scores, strict=True):
        best[i] = max(best[i], float(p))
    return best


def probability(text: str, allow: tuple[str, ...] = ()) -> float:
    return probabilities([text], allow)[0]


def allow_list(policy_config: dict) -> tuple[str, ...]:
    """The policy's manga vocabulary (the built-in list for a policy version older than it) and the catalog's series."""
    from guardrails.policy import DEFAULT_POLICY

    return tuple(policy_config.get("toxicity_allow", DEFAULT_POLICY["toxicity_allow"])) + catalog_series()
