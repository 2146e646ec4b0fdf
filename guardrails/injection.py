"""Prompt-injection detection in two layers (US-7.2, S12).

1. **Rules** over the message and its de-obfuscated variants: Unicode NFKC with zero-width and
   soft-hyphen characters removed, leetspeak mapped back to letters, spaced-out letters joined,
   and any base64 or hex run decoded. Each rule has a name, so the security-review log says which
   fired. Hidden characters inside words are a finding of their own.
2. A **classifier** (scikit-learn TF-IDF word 1-2 and char_wb 3-5 grams into logistic regression)
   trained on ``guardrails/data/injection_train.jsonl`` (labelled attacks and benign shopper
   messages), registered in the registry as the guardrail policy's artifact with its held-out
   metrics (``manage.py train_guardrails``). It catches phrasings the rules do not know.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mangaconsole.lib import artifacts
from mangaconsole.lib.jsonl import jsonl_rows
from mangaconsole.lib.templates import template_key

ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e]")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){3,}[a-z]\b")
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"(?:\\x)?(?:[0-9a-fA-F]{2}(?:\s|\\x)?){8,}")

_OVERRIDE_VERB = r"(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|neglect|set aside)"
_TARGET = r"(?:instructions?|rules?|prompts?|directions?|guidelines?|directives?|guardrails?|restrictions?|programming|constraints?|context|messages?)"  # noqa: E501

RULES: list[tuple[str, re.Pattern]] = [
    (
        "instruction_override",
        re.compile(
            rf"\b{_OVERRIDE_VERB}\b(?:\W+\w+){{0,4}}?\W+(?:previous|prior|above|earlier|preceding|original|initial|"
            rf"system|all|any|every|your|the|these|those)\b(?:\W+\w+){{0,3}}?\W+{_TARGET}\b"
        ),
    ),
    (
        "instruction_override",
        re.compile(rf"\b{_OVERRIDE_VERB}\s+(?:everything|all)\s+(?:above|before|you were told)\b"),
    ),
    (
        "new_instructions",
        re.compile(r"\b(?:new|updated|real|actual|secret)\s+(?:instructions?|rules|system prompt)\s*:"),
    ),
    (
        "role_reassignment",
        re.compile(
            r"\b(?:you are now|you're now|from now on,? you|you will now act|you are no longer|"
            r"act as (?:an? )?(?:unrestricted|unfiltered|evil|different|new)|pretend (?:to be|you are|you're)|"
            r"roleplay as|role-play as|role play as|let's play a game where you|imagine you are an? (?:ai|assistant|"
            r"bot|model) (?:with|without|that))"
        ),
    ),
    (
        "jailbreak_persona",
        re.compile(
            r"\b(?:dan mode|do anything now|developer mode|jailbreak|jailbroken|god mode|unfiltered mode|"
            r"no restrictions|without (?:any )?restrictions|uncensored|evil confidant|stay in character|"
            r"opposite mode|sudo mode|admin override|maintenance mode)\b"
        ),
    ),
    (
        "system_prompt_extraction",
        re.compile(
            r"\b(?:reveal|show|print|repeat|display|output|leak|tell me|give me|what (?:is|are|was|were)|"
            r"copy|dump|recite|spell out)\b(?:\W+\w+){0,4}?\W+(?:system|initial|hidden|original|secret|internal|"
            r"developer|first)\s+(?:prompt|instructions?|message|rules|configuration|directives)"
        ),
    ),
    (
        "system_prompt_extraction",
        re.compile(
            r"\b(?:repeat|print|output|recite)\b(?:\W+\w+){0,3}?\W+(?:words|text|everything|all)\s+"
            r"(?:above|before this|preceding)|\bwhat (?:were|are) you told\b|\byour (?:system )?prompt\b"
        ),
    ),
    (
        "delimiter_injection",
        re.compile(
            r"(?:</?(?:context|system|instructions?|assistant|user)>|<\|im_(?:start|end)\|>|\[/?inst\]|"
            r"<<sys>>|#{2,}\s*(?:system|instruction)|```\s*system|\bend of (?:context|prompt|instructions)\b|"
            r"^\s*(?:system|assistant)\s*:)",
            re.MULTILINE,
        ),
    ),
    (
        "encoded_instruction",
        re.compile(
            r"\b(?:decode|base64|rot13|hex)\b(?:\W+\w+){0,6}?\W+(?:follow|execute|obey|run|do what|instructions?)"
        ),
    ),
]


@dataclass
class RuleHit:
    rule: str
    variant: str  # which view of the text it fired on: raw, leet, spaced, base64, hex
    excerpt: str


def _decoded_runs(text: str) -> list[tuple[str, str]]:
    """Printable text hidden in base64 or hex runs of ``text``."""
    found = []
    for match in _B64.finditer(text):
        token = match.group(0)
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = raw.decode("utf-8", "ignore")
        if len(decoded) >= 8 and sum(c.isprintable() for c in decoded) / len(decoded) > 0.9:
            found.append(("base64", decoded))
    for match in _HEX.finditer(text):
        digits = re.sub(r"\\x|\s", "", match.group(0))
        if len(digits) % 2:
            digits = digits[:-1]
        try:
            decoded = bytes.fromhex(digits).decode("utf-8", "ignore")
        except ValueError:
            continue
        if len(decoded) >= 6 and sum(c.isalpha() or c == " " for c in decoded) / len(decoded) > 0.8:
            found.append(("hex", decoded))
    return found


def variants(text: str) -> list[tuple[str, str]]:
    """The views of ``text`` the rules and the classifier look at: (name, lower-cased text)."""
    plain = unicodedata.normalize("NFKC", ZERO_WIDTH.sub("", text)).casefold()
    views = [("raw", plain)]
    leet = plain.translate(_LEET)
    if leet != plain:
        views.append(("leet", leet))
    spaced = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), plain)
    if spaced != plain:
        views.append(("spaced", spaced))
    for kind, decoded in _decoded_runs(unicodedata.normalize("NFKC", ZERO_WIDTH.sub("", text))):
        views.append((kind, decoded.casefold()))
    return views


def rule_hits(text: str) -> list[RuleHit]:
    hits = []
    hidden = ZERO_WIDTH.findall(text)
    if hidden and re.search("\\w[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]+\\w", text):
        hits.append(RuleHit("hidden_characters", "raw", f"{len(hidden)} zero-width characters inside words"))
    for variant, view in variants(text):
        for name, pattern in RULES:
            match = pattern.search(view)
            if match:
                hits.append(RuleHit(name, variant, match.group(0)[:80]))
                break
    # one decoded payload is suspicious by itself when it reads as an instruction to the bot
    return hits


def classifier_text(text: str) -> str:
    """What the classifier sees: the de-obfuscated views joined (so leetspeak or base64 do not hide words)."""
    return " \n ".join(view for _, view in variants(text))


# ------------------------------------------------------------------------------------ classifier
@dataclass
class TrainingResult:
    model: object
    metrics: dict
    dataset_hash: str


def load_dataset(path: Path) -> tuple[list[str], list[int], str]:
    raw = path.read_bytes()
    texts, labels = [], []
    for lineno, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, label = row["text"], row["label"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a {{text, label}} JSON line ({exc})") from exc
        if label not in ("attack", "benign"):
            raise ValueError(f"{path}:{lineno}: label is 'attack' or 'benign', not {label!r}")
        texts.append(text)
        labels.append(1 if label == "attack" else 0)
    if len(set(labels)) < 2:
        raise ValueError(f"{path}: needs both attack and benign examples")
    return texts, labels, hashlib.sha256(raw).hexdigest()


def build_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    return Pipeline(
        [("features", features), ("clf", LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced"))]
    )


BLOCK_THRESHOLD = 0.7  # the template-only classifier (``train``) is measured at this probability


def disjoint_split(rows: list[dict], *, test_share: float = 0.3, seed: int = 7) -> tuple[list[int], list[int]]:
    """(train indices, test indices) with attacks held out by what they are made of: a test attack's
    opener *and* payload never occur in a training attack (attacks mixing a held-out part with a
    training part are left out of both), so the figure is recall on attacks whose phrasing the model
    has not seen. Benign messages are held out by template (``chat.intent.template_key``)."""
    rng = random.Random(seed)
    openers = sorted({r["opener"] for r in rows if "opener" in r})
    payloads = sorted({r["payload"] for r in rows if "payload" in r})
    test_openers = set(rng.sample(openers, max(1, round(test_share * len(openers))))) if openers else set()
    test_payloads = set(rng.sample(payloads, max(1, round(test_share * len(payloads))))) if payloads else set()
    benign_groups = sorted({template_key(r["text"]) for r in rows if r["label"] == "benign"})
    test_benign = set(rng.sample(benign_groups, round(test_share * len(benign_groups))))
    train, test = [], []
    for i, r in enumerate(rows):
        if r["label"] == "benign":
            (test if template_key(r["text"]) in test_benign else train).append(i)
        elif "opener" in r:
            held = (r["opener"] in test_openers, r["payload"] in test_payloads)
            if all(held):
                test.append(i)
            elif not any(held):
                train.append(i)
        else:  # an attack of no known parts (the soft ones): held out at random
            (test if rng.random() < test_share else train).append(i)
    return train, test


def _at(y, scores, threshold: float) -> dict:
    from sklearn.metrics import f1_score, precision_score, recall_score

    predicted = [int(s >= threshold) for s in scores]
    benign = [p for p, t in zip(predicted, y, strict=True) if t == 0]
    return {
        "threshold": threshold,
        "precision": round(float(precision_score(y, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(y, predicted)), 4),
        "f1": round(float(f1_score(y, predicted)), 4),
        "false_positive_rate": round(sum(benign) / max(len(benign), 1), 4),
    }


def train(path: Path, *, test_share: float = 0.3, seed: int = 7) -> TrainingResult:
    """Fit and measure on the disjoint hold-out (``disjoint_split``), at the threshold the policy blocks
    at and at 0.5; the model that ships is then fitted on everything."""
    from sklearn.metrics import roc_auc_score

    texts, labels, digest = load_dataset(path)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    views = [classifier_text(t) for t in texts]
    train_idx, test_idx = disjoint_split(rows, test_share=test_share, seed=seed)
    x_train, y_train = [views[i] for i in train_idx], [labels[i] for i in train_idx]
    x_test, y_test = [views[i] for i in test_idx], [labels[i] for i in test_idx]
    model = build_pipeline().fit(x_train, y_train)
    scores = model.predict_proba(x_test)[:, 1]
    at_block = _at(y_test, scores, BLOCK_THRESHOLD)
    # what the policy does: the rules first, then the classifier at its threshold
    raw_test = [texts[i] for i in test_idx]
    layered = [1.0 if rule_hits(t) else s for t, s in zip(raw_test, scores, strict=True)]
    metrics = {
        "with_rules": _at(y_test, layered, BLOCK_THRESHOLD),
        **{k: at_block[k] for k in ("precision", "recall", "f1", "false_positive_rate")},
        "threshold": BLOCK_THRESHOLD,
        "at_0_5": _at(y_test, scores, 0.5),
        "roc_auc": round(float(roc_auc_score(y_test, scores)), 4),
        "split": "attacks by opener and payload, benign by template (disjoint from training)",
        "n_train": len(x_train),
        "n_test": len(x_test),
        "n_test_attacks": int(sum(y_test)),
        "n_attack": int(sum(labels)),
        "n_benign": len(labels) - int(sum(labels)),
    }
    # the model that ships is fitted on everything; the metrics above are from the disjoint hold-out
    return TrainingResult(build_pipeline().fit(views, labels), metrics, digest)


# ------------------------------------------------------------ the joint classifier (issue 19 item 4)
DATA = Path(__file__).resolve().parent / "data"
# hand-written attacks and look-alikes (role-play, multi-turn set-ups, translations, payload splitting,
# tool abuse, prompt leaks, instructions hidden in product questions), each by a different method
HAND_SETS = ("injection_dev.jsonl", "injection_train_extra.jsonl", "injection_train_extra2.jsonl")
TEST_SET = DATA / "injection_test.jsonl"  # frozen: read only by ``eval_injection --part test``
HAND_WEIGHT = 3.0
CONTEXT_TURNS = 2  # the shopper's earlier messages the classifier reads with the new one
RULE_FLOOR = 0.2  # a rule on the plain text blocks only when the classifier gives at least this


def view(text: str, context=()) -> str:
    """What the classifier judges: the shopper's last earlier messages, then this one (multi-turn
    set-ups and payloads split across turns are one text here)."""
    return "\n".join([*list(context)[-CONTEXT_TURNS:], text])


@dataclass
class JointClassifier:
    """Logistic regression over word 1-2 and char_wb 3-5 TF-IDF of the de-obfuscated view and the
    message's sentence vector (``embedder``): the words and characters catch known shapes, the
    vector paraphrases and role-play framings no rule names."""

    words: object
    chars: object
    clf: object
    embedder: str

    def features(self, views: list[str], vectors):
        import numpy as np
        import scipy.sparse as sp

        texts = [classifier_text(v) for v in views]
        dense = sp.csr_matrix(np.asarray(vectors, dtype=np.float64).reshape(len(views), -1))
        return sp.hstack([self.words.transform(texts), self.chars.transform(texts), dense]).tocsr()

    def probabilities(self, views: list[str], vectors) -> list[float]:
        return [float(p) for p in self.clf.predict_proba(self.features(views, vectors))[:, 1]]


def fit_joint(views: list[str], vectors, labels: list[int], *, weights=None, embedder: str) -> JointClassifier:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [classifier_text(v) for v in views]
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2).fit(texts)
    model = JointClassifier(words, chars, None, embedder)
    clf = LogisticRegression(C=8.0, class_weight="balanced", max_iter=4000)
    model.clf = clf.fit(model.features(views, vectors), labels, sample_weight=weights)
    return model


def read_hand_set(path: Path) -> list[dict]:
    """Rows of a hand-written set (text, context, attack, category); a bad line names itself."""
    rows = []
    for lineno, row in jsonl_rows(path):
        try:
            if not isinstance(row["text"], str) or not isinstance(row["attack"], bool):
                raise TypeError("text is a string and attack true or false")
            row["context"] = [str(c) for c in row.get("context") or []]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{lineno}: not an injection row ({exc})") from exc
        rows.append(row)
    return rows


def blocks(text: str, context, p: float | None, threshold: float, floor: float = RULE_FLOOR) -> bool:
    """The policy's decision: a rule on a decoded or hidden view blocks; a rule on the plain text
    blocks unless the classifier is confident it is benign (under ``floor``: "Loid has to pretend to
    be a tennis player"); the classifier blocks at ``threshold``."""
    hits = rule_hits(text)
    if any(h.variant != "raw" or h.rule == "hidden_characters" for h in hits):
        return True
    if hits and (p is None or p >= floor):
        return True
    return p is not None and p >= threshold


def train_joint(
    template_path: Path, embed, *, embedder: str, threshold: float, folds: int = 5, seed: int = 7
) -> TrainingResult:
    """Fit on the template-built set and the hand-written sets; the metrics are a stratified
    ``folds``-fold cross-validation over the hand-written rows (the template rows always train), at
    the policy's threshold, rules included. ``folds=0`` skips it (the test fixture)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    texts, labels, digest = load_dataset(template_path)
    hand = [r for name in HAND_SETS if (DATA / name).exists() for r in read_hand_set(DATA / name)]
    views = texts + [view(r["text"], r["context"]) for r in hand]
    y = labels + [int(r["attack"]) for r in hand]
    weights = np.array([1.0] * len(texts) + [HAND_WEIGHT] * len(hand))
    vectors = np.asarray(embed([t.lower() for t in texts] + [r["text"].lower() for r in hand]), dtype=np.float64)
    hashed = hashlib.sha256(digest.encode())
    for r in hand:
        hashed.update(json.dumps([r["context"], r["text"], r["attack"]], ensure_ascii=False).encode())
    metrics: dict = {
        "threshold": threshold,
        "rule_floor": RULE_FLOOR,
        "n_attack": int(sum(y)),
        "n_benign": len(y) - int(sum(y)),
    }
    if folds >= 2:
        first = len(texts)
        scores = np.zeros(len(hand))
        strata = [f"{r['attack']}|{r['category']}" for r in hand]
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(hand)), strata):
            idx = list(range(first)) + [first + i for i in tr]
            fold = fit_joint(
                [views[i] for i in idx], vectors[idx], [y[i] for i in idx], weights=weights[idx], embedder=embedder
            )
            scores[te] = fold.probabilities([views[first + i] for i in te], vectors[[first + i for i in te]])
        y_hand = [int(r["attack"]) for r in hand]
        layered = [
            1.0 if blocks(r["text"], r["context"], s, threshold) else min(s, threshold - 1e-6)
            for r, s in zip(hand, scores, strict=True)
        ]
        at_block = _at(y_hand, list(scores), threshold)
        metrics |= {
            "with_rules": _at(y_hand, layered, threshold),
            **{k: at_block[k] for k in ("precision", "recall", "f1", "false_positive_rate")},
            "at_0_5": _at(y_hand, list(scores), 0.5),
            "roc_auc": round(float(roc_auc_score(y_hand, scores)), 4),
            "split": f"{folds}-fold cross-validation over the hand-written sets (template-built rows always train)",
            "n_test": len(hand),
            "n_test_attacks": int(sum(y_hand)),
            # rules + classifier at other thresholds: where the policy's threshold is read from
            "sweep": [
                {
                    "threshold": t,
                    **{
                        k: v
                        for k, v in _at(
                            y_hand,
                            [
                                1.0 if blocks(r["text"], r["context"], s, t) else 0.0
                                for r, s in zip(hand, scores, strict=True)
                            ],
                            0.5,
                        ).items()
                        if k in ("recall", "false_positive_rate")
                    },
                }
                for t in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
            ],
        }
    model = fit_joint(views, vectors, y, weights=weights, embedder=embedder)
    metrics["n_train"] = len(y)
    return TrainingResult(model, metrics, hashed.hexdigest())


def save(model, path: Path) -> str:
    """Write the artifact; returns its SHA-256."""
    return artifacts.save(model, path)


@lru_cache(maxsize=8)
def load(path: str, sha256: str):
    """The artifact, refused when its checksum differs from the registry's."""
    return artifacts.load_verified(path, sha256, what="injection classifier")


def classifier_of(artifact):
    """The injection classifier in a guardrail policy artifact: the artifact itself (older versions)
    or the ``injection`` part of a bundle that also carries the scope model (guardrails.scope)."""
    return artifact["injection"] if isinstance(artifact, dict) else artifact


def needs_vector(model) -> bool:
    return isinstance(classifier_of(model), JointClassifier)


def attack_probability(model, text: str, *, vector=None, context=()) -> float:
    """The classifier's probability that the message (read with its ``context``) is an attack. The
    joint classifier needs the message's sentence vector."""
    clf = classifier_of(model)
    if isinstance(clf, JointClassifier):
        if vector is None:
            raise ValueError("this injection classifier reads the message's sentence vector: pass vector=")
        return clf.probabilities([view(text, context)], [vector])[0]
    return float(clf.predict_proba([classifier_text(view(text, context))])[0][1])
