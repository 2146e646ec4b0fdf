"""Scope guard (issue 19 item 3; US-7.1, S11): harmful requests and clearly off-topic tasks get the
safe refusal, never product suggestions.

A multinomial logistic regression over the message's word 1-2-gram TF-IDF and its sentence vector
(all-MiniLM-L6-v2: the vector retrieval embeds anyway, so the check costs about a millisecond), four
classes:

- ``in_scope``: shopping, orders, and manga talk, dark themes included ("the most violent fight in
  Berserk", "is Tokyo Ghoul too gory for a 12 year old");
- ``harmful``: sexual, violent, weapons, crime, hacking, hate and harassment requests;
- ``self_harm``: answered with care and where to find help, not with a shop refusal;
- ``off_topic``: tasks that are not the shop's (homework, code, recipes, travel, stock tips).

It is trained by ``manage.py train_guardrails`` on the hand-written scope sets (``scope_dev.jsonl``,
``scope_train_extra*.jsonl``: harmful, off-topic and in-scope messages) plus the intent training data
(``intents.jsonl``, ``intents_written.jsonl``), and travels in the guardrail
policy's artifact next to the injection classifier; thresholds live in the policy
(``checks.scope``) and were chosen with ``manage.py eval_scope --part dev``. A named catalog entity
raises the off-topic bar (a manga question rarely is one), never the harmful one: "where can I read
One Piece scans illegally" is still refused.

Why embeddings, not words: a refusal list of words is what independent red-team prompts walk past
(26.5% refused before this); the semantic neighbourhood of "make a bomb" is shared by its paraphrases.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from guardrails import injection
from mangaconsole.lib.jsonl import jsonl_rows

CLASSES = ("in_scope", "harmful", "self_harm", "off_topic")
REFUSED = frozenset({"harmful", "self_harm", "off_topic"})
DATA = Path(__file__).resolve().parent / "data"
DEV = DATA / "scope_dev.jsonl"
EXTRA = ("scope_train_extra.jsonl", "scope_train_extra2.jsonl")  # more hand-written training sets
HAND_WEIGHT = 3.0  # a hand-written row counts three template-built intent rows
TEST = DATA / "scope_test.jsonl"  # frozen: read only by ``eval_scope --part test``, never by training

# the helper-written sets label kinds; these map them to the four classes
HARMFUL_KINDS = frozenset(
    {
        "sexual_explicit",
        "violence",
        "weapons_explosives",
        "illegal_drugs_crime",
        "hacking_cyber",
        "hate_harassment_extremism",
    }
)
DEFAULTS = {"harmful_threshold": 0.5, "off_topic_threshold": 0.7, "off_topic_threshold_named": 0.8}


def label_of(row: dict) -> str:
    """The class of one labelled row of a scope set (``refuse`` and ``kind``)."""
    if not row["refuse"]:
        return "in_scope"
    kind = row.get("kind", "")
    if kind == "self_harm":
        return "self_harm"
    if kind in HARMFUL_KINDS:
        return "harmful"
    if kind == "off_topic_task":
        return "off_topic"
    raise ValueError(f"unknown refusal kind {kind!r}")


def read_set(path: Path) -> list[dict]:
    """Rows of a scope set, each with its class; a bad line is an error naming the line."""
    rows = []
    for lineno, row in jsonl_rows(path):
        try:
            row["text"] = row["text"].strip()
            row["label"] = label_of(row)
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{lineno}: not a scope row ({exc})") from exc
        rows.append(row)
    return rows


@dataclass
class ScopeModel:
    """The trained model; ``embedder`` names the sentence model the vectors must come from."""

    vectorizer: object  # scikit-learn TfidfVectorizer, word 1-2 grams
    clf: object  # scikit-learn LogisticRegression over [tf-idf | sentence vector]
    classes: tuple[str, ...]
    embedder: str
    dataset_hash: str
    metrics: dict = field(default_factory=dict)

    def features(self, texts: list[str], vectors: np.ndarray):
        import scipy.sparse as sp

        return sp.hstack(
            [self.vectorizer.transform(texts), sp.csr_matrix(np.asarray(vectors, dtype=np.float64))]
        ).tocsr()

    def probabilities(self, vector: np.ndarray, text: str) -> dict[str, float]:
        p = self.clf.predict_proba(self.features([text], np.asarray(vector).reshape(1, -1)))[0]
        return {str(c): float(v) for c, v in zip(self.clf.classes_, p, strict=True)}


def dataset_hash(texts: list[str], labels: list[str]) -> str:
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()


def fit(
    texts: list[str],
    vectors: np.ndarray,
    labels: list[str],
    *,
    weights: np.ndarray | None = None,
    c: float = 16.0,
    embedder: str,
    data_hash: str,
) -> ScopeModel:
    """Balanced multinomial logistic regression (scikit-learn) on word 1-2-gram TF-IDF beside the
    unit-length sentence vector: the words catch "noose" and "dox", the vector their paraphrases."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    model = ScopeModel(vectorizer, None, (), embedder, data_hash)
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=4000)
    clf.fit(model.features(texts, vectors), labels, sample_weight=weights)
    model.clf, model.classes = clf, tuple(str(k) for k in clf.classes_)
    return model


def thresholds(cfg: dict) -> dict:
    return {k: float(cfg.get(k, v)) for k, v in DEFAULTS.items()}


def verdict(probabilities: dict[str, float], cfg: dict, *, named_entity: bool) -> str:
    """``in_scope`` or the refused class: harmful and self-harm over their bar whatever the message
    names; off-topic over a bar that is higher when the message names a catalog entity."""
    t = thresholds(cfg)
    harm = probabilities.get("harmful", 0.0)
    hurt = probabilities.get("self_harm", 0.0)
    if hurt >= t["harmful_threshold"] and hurt >= harm:
        return "self_harm"
    if harm + hurt >= t["harmful_threshold"]:
        return "harmful" if harm >= hurt else "self_harm"
    bar = t["off_topic_threshold_named"] if named_entity else t["off_topic_threshold"]
    if probabilities.get("off_topic", 0.0) >= bar:
        return "off_topic"
    return "in_scope"


def model_of(artifact) -> ScopeModel | None:
    """The scope model inside a guardrail policy artifact (a bundle); older artifacts carry none."""
    if isinstance(artifact, dict):
        return artifact.get("scope")
    return None


def intent_files(data_dir: Path) -> list[Path]:
    """The intent training data the scope model also learns from (chat/data)."""
    return [p for p in (data_dir / "intents.jsonl", data_dir / "intents_written.jsonl") if p.exists()]


def training_rows(intents_paths: list[Path]) -> list[tuple[str, str, str]]:
    """(text, class, source): the hand-written scope sets, plus the intent training data (its
    ``out_of_scope`` messages are off-topic, every other intent is in scope). The frozen test set is
    never read here."""
    rows = [(r["text"], r["label"], "scope_dev") for r in read_set(DEV)]
    for name in EXTRA:
        if (DATA / name).exists():
            rows += [(r["text"], r["label"], "scope_extra") for r in read_set(DATA / name)]
    # the injection sets' benign shoppers are in scope too: questions in Japanese, Spanish or Korean,
    # "ignore my last message", Death Note's rules (a scope guard that reads only English refuses them)
    for name in injection.HAND_SETS:
        if (DATA / name).exists():
            rows += [
                (r["text"], "in_scope", "injection_benign")
                for r in injection.read_hand_set(DATA / name)
                if not r["attack"]
            ]
    for path in intents_paths:
        for lineno, row in jsonl_rows(path):
            try:
                text, intent = row["text"].strip(), row["intent"]
            except (KeyError, AttributeError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: not a {{text, intent}} line ({exc})") from exc
            rows.append((text, "off_topic" if intent == "out_of_scope" else "in_scope", path.stem))
    return rows


def refusal_rates(labels: list[str], verdicts: list[str]) -> dict:
    """The share of refused-class messages refused and of in-scope messages refused."""
    refuse = [v != "in_scope" for v in verdicts]
    bad = [i for i, y in enumerate(labels) if y != "in_scope"]
    good = [i for i, y in enumerate(labels) if y == "in_scope"]
    return {
        "refused_of_harmful_or_off_topic": round(sum(refuse[i] for i in bad) / max(len(bad), 1), 4),
        "refused_of_in_scope": round(sum(refuse[i] for i in good) / max(len(good), 1), 4),
        "n_refuse": len(bad),
        "n_in_scope": len(good),
    }


def weights_of(sources: list[str]) -> np.ndarray:
    return np.array([1.0 if src == "intents" else HAND_WEIGHT for src in sources])  # template rows count once


def cross_validated(texts, vectors, labels, sources, *, folds: int = 5, seed: int = 7, embedder: str = ""):
    """Out-of-fold class probabilities of every training row (stratified by class and source)."""
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{y}|{s}" for y, s in zip(labels, sources, strict=True)]
    weights = weights_of(sources)
    probs: list[dict] = [{} for _ in texts]
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(vectors, strata):
        fold = fit(
            [texts[i] for i in tr],
            vectors[tr],
            [labels[i] for i in tr],
            weights=weights[tr],
            embedder=embedder,
            data_hash="",
        )
        p = fold.clf.predict_proba(fold.features([texts[i] for i in te], vectors[te]))
        for row, i in enumerate(te):
            probs[i] = {str(c): float(v) for c, v in zip(fold.clf.classes_, p[row], strict=True)}
    return probs


def train(embed, intents_paths: list[Path], *, embedder: str, cfg: dict | None = None, folds: int = 5, seed: int = 7):
    """Fit on every training row; the metrics are a stratified ``folds``-fold cross-validation, read
    on the hand-written scope rows of each held-out fold, at the policy's thresholds (no entity named)."""
    rows = training_rows(intents_paths)
    texts = [t for t, _, _ in rows]
    labels = [y for _, y, _ in rows]
    sources = [src for _, _, src in rows]
    digest = dataset_hash(texts, labels)
    vectors = np.asarray(embed([t.lower() for t in texts]), dtype=np.float64)
    model = fit(texts, vectors, labels, weights=weights_of(sources), embedder=embedder, data_hash=digest)
    model.metrics = {}
    if folds >= 2:  # tests train with folds=0: the figures are the command's, not the fixture's
        probs = cross_validated(texts, vectors, labels, sources, folds=folds, seed=seed, embedder=embedder)
        verdicts = [verdict(p, cfg or {}, named_entity=False) for p in probs]
        hand = [i for i, src in enumerate(sources) if src.startswith("scope_")]
        model.metrics = {
            "cross_validated_on_hand_written_scope_rows": refusal_rates(
                [labels[i] for i in hand], [verdicts[i] for i in hand]
            ),
            "cross_validated_on_all": refusal_rates(labels, verdicts),
        }
    model.metrics |= {
        "n_train": len(rows),
        "classes": {c: labels.count(c) for c in CLASSES},
        "sources": {src: sources.count(src) for src in sorted(set(sources))},
        "embedder": embedder,
        "folds": folds,
    }
    return model
