"""Pre- and post-generation guardrails (US-7.1, US-7.2, US-7.3, S11).

Every check returns a ``Decision`` (check, stage, verdict, latency, detail): the pipeline turns each
one into a span on the turn's trace and a ``GuardrailEvent`` row, so pass and block rates are counts.
Verdicts: ``pass``; ``modify`` (the text was changed: PII redacted, a link removed); ``block`` (the
message or answer may not go out as it is); ``skip`` (the check does not apply, e.g. no classifier).

Details never hold PII in clear: excerpts are redacted before they are kept.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import urlsplit

from guardrails import claims, injection, pii, scope, toxicity
from guardrails.catalog import catalog_facts
from guardrails.policy import Policy


@dataclass
class Decision:
    check: str
    stage: str  # pre | stream | post
    verdict: str  # pass | modify | block | skip
    latency_ms: float
    detail: dict = field(default_factory=dict)
    score: float | None = None

    def as_dict(self) -> dict:
        return {
            "check": self.check,
            "stage": self.stage,
            "verdict": self.verdict,
            "latency_ms": round(self.latency_ms, 4),
            "score": None if self.score is None else round(self.score, 4),
            "detail": self.detail,
        }


def _timed(stage: str, check: str, fn) -> Decision:
    started = time.perf_counter()
    verdict, detail, score = fn()
    return Decision(check, stage, verdict, (time.perf_counter() - started) * 1000, detail, score)


def _excerpt(text: str, limit: int = 120) -> str:
    return pii.redact(text[:limit]).text


@lru_cache(maxsize=16)
def _term_pattern(terms: tuple[str, ...]) -> re.Pattern | None:
    if not terms:
        return None
    alternatives = "|".join(
        re.escape(t.lower()).replace(r"\ ", r"[\s\-_]+") for t in sorted(terms, key=len, reverse=True)
    )
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])", re.IGNORECASE)


def find_terms(text: str, terms: list[str]) -> list[str]:
    pattern = _term_pattern(tuple(terms))
    if pattern is None:
        return []
    found = {m.group(0).lower() for m in pattern.finditer(text)}
    # leetspeak and spaced-out spellings too ("sh1t", "f u c k")
    for _, view in injection.variants(text)[1:3]:
        found |= {m.group(0).lower() for m in pattern.finditer(view)}
    return sorted(found)


# ------------------------------------------------------------------------------- pre-generation
@dataclass
class PreResult:
    text: str  # the message with PII redacted: what the rest of the turn uses and what is stored
    decisions: list[Decision]
    blocked: Decision | None
    fallback: str = ""
    order_refs: list[str] = field(default_factory=list)  # masked order numbers given in the message


_embedder = None


def set_embedder(fn) -> None:
    """The sentence embedder the vector-reading checks use when the caller passes no vector (the
    chat app registers all-MiniLM-L6-v2 at start-up: guardrails sits below chat and imports none of it)."""
    global _embedder
    _embedder = fn


def embed(text: str):
    if _embedder is None:
        raise RuntimeError(
            "no sentence embedder registered: guardrails.checks.set_embedder(chat.embeddings.embed_query)"
        )
    return _embedder(text)


def pre_checks(text: str, policy: Policy, *, vector=None, context=()) -> PreResult:
    """Every pre-generation check on the shopper's message; ``vector`` is its sentence vector when
    the caller has it, ``context`` the shopper's earlier messages in the session (multi-turn set-ups)."""
    decisions: list[Decision] = []
    stage = "pre"

    if policy.enabled("input_length"):
        limit = int(policy.check("input_length").get("max_chars", 2000))
        decisions.append(
            _timed(
                stage,
                "input_length",
                lambda: ("block" if len(text) > limit else "pass", {"chars": len(text), "limit": limit}, None),
            )
        )

    redaction = pii.Redaction(text, [])

    def _pii():
        nonlocal redaction
        redaction = pii.redact(text, policy.check("pii"))
        return ("modify" if redaction.changed else "pass", {"entities": redaction.entities}, None)

    if policy.enabled("pii"):
        decisions.append(_timed(stage, "pii_input", _pii))

    threshold = float(policy.check("injection_classifier").get("threshold", 0.5))
    floor = float(policy.check("injection_rules").get("classifier_floor", injection.RULE_FLOOR))
    score: dict = {}

    def _probability() -> float | None:
        """The classifier's score, computed once for both checks (None: no classifier, or it is off)."""
        if "p" not in score:
            score["p"] = None
            if policy.enabled("injection_classifier") and policy.classifier is not None:
                model = injection.load(*policy.classifier)
                v = vector
                if v is None and injection.needs_vector(model):
                    v = embed(text)
                score["p"] = injection.attack_probability(model, text, vector=v, context=context)
        return score["p"]

    if policy.enabled("injection_rules"):

        def _rules():
            hits = injection.rule_hits(text)
            if not hits:
                return "pass", {}, None
            detail = {
                "rules": sorted({h.rule for h in hits}),
                "variant": hits[0].variant,
                "excerpt": _excerpt(hits[0].excerpt),
            }
            hard = any(h.variant != "raw" or h.rule == "hidden_characters" for h in hits)
            p = None if hard else _probability()
            if p is not None and p < floor:
                # a rule on the plain text that the classifier reads as a shopper's words ("Loid has to
                # pretend to be a tennis player"): passed, and the decision says why
                return "pass", {**detail, "vetoed_by_classifier": round(p, 4), "classifier_floor": floor}, p
            return "block", detail, p

        decisions.append(_timed(stage, "injection_rules", _rules))

    if policy.enabled("injection_classifier"):

        def _classifier():
            if policy.classifier is None:
                return "skip", {"reason": "this policy version has no trained classifier"}, None
            p = _probability()
            return ("block" if p >= threshold else "pass", {"threshold": threshold}, p)

        decisions.append(_timed(stage, "injection_classifier", _classifier))

    if policy.enabled("input_toxicity"):

        def _toxicity():
            found = find_terms(text, policy.config.get("toxicity_terms", []))
            if found:  # explicit threats: a rule in front of the model
                return "block", {"terms": found}, None
            threshold = float(policy.check("input_toxicity").get("threshold", toxicity.DEFAULT_THRESHOLD))
            p = toxicity.probability(text, toxicity.allow_list(policy.config))
            return ("block" if p >= threshold else "pass"), {"threshold": threshold, "model": "alt-profanity-check"}, p

        decisions.append(_timed(stage, "input_toxicity", _toxicity))

    blocked = next((d for d in decisions if d.verdict == "block"), None)
    fallback = ""
    if blocked is not None:
        kind = {"input_length": "input_length", "input_toxicity": "input_toxicity"}.get(blocked.check, "injection")
        fallback = policy.fallback(kind)
    return PreResult(redaction.text, decisions, blocked, fallback, list(redaction.order_refs))


def scope_model(policy: Policy) -> scope.ScopeModel | None:
    """The policy's scope model, or None when the check is off or its artifact carries none."""
    if not policy.enabled("scope") or policy.classifier is None:
        return None
    return scope.model_of(injection.load(*policy.classifier))


SCOPE_FALLBACK = {"harmful": "scope_harmful", "self_harm": "scope_self_harm", "off_topic": "out_of_scope"}


def scope_check(vector, text: str, policy: Policy, *, named_entity: bool) -> tuple[Decision, str]:
    """The scope guard on the message's sentence vector: a ``pre`` decision and, when it blocks, the
    refusal to answer with (guardrails.scope)."""
    model = scope_model(policy)
    cfg = policy.check("scope")
    found = {}

    def _judge():
        if model is None:
            return "skip", {"reason": "this policy version has no scope model"}, None
        p = model.probabilities(vector, text)
        found["class"] = scope.verdict(p, cfg, named_entity=named_entity)
        detail = {"class": found["class"], "named_entity": named_entity, **{k: round(v, 4) for k, v in p.items()}}
        return ("pass" if found["class"] == "in_scope" else "block"), detail, max(p.get(k, 0.0) for k in scope.REFUSED)

    decision = _timed("pre", "scope", _judge)
    fallback = policy.fallback(SCOPE_FALLBACK[found["class"]]) if decision.verdict == "block" else ""
    return decision, fallback


# ------------------------------------------------------------------------------ post-generation
_ASIN = re.compile(r"\b(B0[0-9A-Z]{8})\b|\bASIN\W{0,3}([0-9A-Z]{10})\b")
_PRICE = re.compile(r"\$\s?(\d{1,5}(?:,\d{3})*(?:\.\d{1,2})?)")
_URL = re.compile(r"\bhttps?://[^\s<>()\[\]\"']+|\bwww\.[^\s<>()\[\]\"']+", re.IGNORECASE)
_CITATION = re.compile(r"\[\d+\]")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_CONTENT = re.compile(r"[a-z][a-z'\-]{2,}|\d+(?:\.\d+)?")
STOPWORDS = _words(
    "the and for are but not you your yours with this that these those from have has had was were will would can "
    "could should may might our ours out about into over under than then them they their there here what which who "
    "whom whose when where why how all any each few more most other some such only own same too very just also "
    "its it's i'm i've i'd you're you'll we're don't doesn't didn't can't won't isn't aren't let let's been being "
    "does did doing per via"
)
# Words the assistant's own phrasing uses (system prompt, answer templates): not claims about the world.
ASSISTANT_WORDS = _words(
    "sorry know find found couldn't couldn catalog faq policies policy rather guess rephrase ask talk person "
    "help here's might like these current deals discount right now prices price share order number customer "
    "service associate look directly connecting connect conversation see repeat need happy sure course "
    "yes available stock sale list please thanks thank great choice recommend recommendation recommendations "
    "manga series volume volumes answer question questions store shopping assistant mangaassist"
)


def _money(raw: str) -> Decimal | None:
    try:
        return Decimal(raw.replace(",", "")).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


@dataclass
class PostResult:
    text: str  # the answer after modifications (PII redacted, links removed)
    decisions: list[Decision]
    violations: list[Decision]  # the blocking ones


def _content_words(text: str) -> list[str]:
    return [w for w in _CONTENT.findall(text.lower()) if w not in STOPWORDS]


def faithfulness(answer: str, context: str, question: str = "", *, min_content_words: int = 4) -> float | None:
    """Share of the answer's content words that the retrieved context (or the question, or the
    assistant's own stock phrasing) supports, over sentences that carry at least
    ``min_content_words`` of them, weighted by length. None when no sentence carries a claim."""
    supported_vocab = set(_content_words(context)) | set(_content_words(question)) | ASSISTANT_WORDS
    total = supported = 0
    for sentence in _SENTENCES.split(_CITATION.sub(" ", answer)):
        words = [w.rstrip("'") for w in _content_words(sentence)]
        if len(words) < min_content_words:
            continue
        total += len(words)
        supported += sum(1 for w in words if w in supported_vocab or w.rstrip("s") in supported_vocab)
    return None if total == 0 else supported / total


def allowed_prices(answer_lower: str, hits: list, facts) -> set[Decimal]:
    """The prices an answer may state: those in the retrieved context, the catalog prices of the
    products retrieved, and of every catalog title the (lower-cased) answer names."""
    allowed: set[Decimal] = set()
    context_text = " ".join(getattr(h, "text", "") for h in hits)
    allowed |= {_money(m) for m in _PRICE.findall(context_text)} - {None}
    for h in hits:
        allowed |= facts.prices.get(getattr(h, "key", "").removeprefix("catalog:"), frozenset())
    for title, asin in facts.titles:
        if title in answer_lower:
            allowed |= facts.prices.get(asin, frozenset())
    return allowed


def post_checks(answer: str, *, hits: list, question: str, policy: Policy) -> PostResult:
    decisions: list[Decision] = []
    stage = "post"
    text = answer
    facts = catalog_facts() if (policy.enabled("asin") or policy.enabled("price")) else None
    lower = answer.lower()

    if policy.enabled("asin"):

        def _asin():
            mentioned = {a or b for a, b in _ASIN.findall(answer)}
            unknown = sorted(a for a in mentioned if a not in facts.asins)
            verdict = "block" if unknown else "pass"
            return verdict, {"mentioned": len(mentioned), "unknown": unknown}, None

        decisions.append(_timed(stage, "asin", _asin))

    if policy.enabled("price"):

        def _price():
            amounts = {_money(m) for m in _PRICE.findall(answer)} - {None}
            if not amounts:
                return "pass", {"mentioned": 0}, None
            allowed = allowed_prices(lower, hits, facts)
            fabricated = sorted(str(a) for a in amounts - allowed)
            return ("block" if fabricated else "pass", {"mentioned": len(amounts), "fabricated": fabricated}, None)

        decisions.append(_timed(stage, "price", _price))

    if policy.enabled("url"):
        domains = [d.lower() for d in policy.check("url").get("allowed_domains", [])]

        def _url():
            nonlocal text
            removed = []
            for url in set(_URL.findall(text)):
                host = (urlsplit(url if "://" in url else f"http://{url}").hostname or "").lower()
                if not any(host == d or host.endswith("." + d) for d in domains):
                    removed.append(host)
                    text = text.replace(url, "[link removed]")
            return ("modify" if removed else "pass", {"removed_hosts": sorted(set(removed))}, None)

        decisions.append(_timed(stage, "url", _url))

    if policy.enabled("pii"):

        def _pii():
            nonlocal text
            from guardrails.streaming import published_shapes  # deferred: streaming imports this module

            context = " ".join(getattr(h, "text", "") for h in hits)
            redaction = pii.redact(text, policy.check("pii"), allow=published_shapes(context) if context else None)
            text = redaction.text
            return ("modify" if redaction.changed else "pass", {"entities": redaction.entities}, None)

        decisions.append(_timed(stage, "pii_output", _pii))

    if policy.enabled("output_toxicity"):

        def _toxicity():
            found = find_terms(answer, policy.config.get("toxicity_terms", []) + policy.config.get("profanity", []))
            if found:
                return "block", {"terms": found}, None
            threshold = float(policy.check("output_toxicity").get("threshold", toxicity.DEFAULT_THRESHOLD))
            p = toxicity.probability(answer, toxicity.allow_list(policy.config))
            return ("block" if p >= threshold else "pass"), {"threshold": threshold, "model": "alt-profanity-check"}, p

        decisions.append(_timed(stage, "output_toxicity", _toxicity))

    if policy.enabled("competitor"):

        def _competitor():
            found = find_terms(answer, policy.config.get("competitors", []))
            return ("block", {"competitors": found}, None) if found else ("pass", {}, None)

        decisions.append(_timed(stage, "competitor", _competitor))

    if policy.enabled("faithfulness"):
        settings = policy.check("faithfulness")
        threshold = float(settings.get("threshold", 0.5))

        def _faithfulness():
            if not hits:
                return "skip", {"reason": "no retrieved context"}, None
            context = "\n".join(f"{getattr(h, 'title', '')} {getattr(h, 'text', '')}" for h in hits)
            # claim-level first (issue 18 item 5): a contradicted number, author, availability or
            # denial blocks; an answer with no checkable claim falls back to word overlap
            report = claims.check(answer, context, question)
            # a made-up price is the price check's finding (one reason per fault on the trace)
            prices = {claims.number_key(m) for m in _PRICE.findall(answer)} if policy.enabled("price") else set()
            failing = [c for c in report.failed if not (c.kind == "number" and c.text in prices)]
            if failing:
                failed = [{"kind": c.kind, "claim": c.text[:120], "why": c.reason} for c in failing]
                return "block", {"scorer": "claims", "claims": len(report.claims), "failed": failed}, report.score
            score = faithfulness(answer, context, question, min_content_words=int(settings.get("min_content_words", 4)))
            if score is None:
                return "pass", {"reason": "no claim-bearing sentence", "threshold": threshold}, None
            evidence = {"scorer": "overlap", "threshold": threshold, "claims": len(report.claims)}
            return ("block" if score < threshold else "pass", evidence, score)

        decisions.append(_timed(stage, "faithfulness", _faithfulness))

    return PostResult(text, decisions, [d for d in decisions if d.verdict == "block"])
