"""PII detection and redaction with Microsoft Presidio (US-10.3, S5).

The analyzer runs **pattern recognizers only** on presidio's ``NoOpNlpEngine`` (no spaCy model to
download: presidio docs, "NLP engine" → no-op engine for recognizers that need no NLP artifacts),
with presidio's own email, phone, credit card (Luhn-checked), US SSN, IBAN and IP recognizers and
our custom ``ORDER_ID`` recognizer for Amazon order numbers. presidio-anonymizer replaces each
finding with ``<ENTITY_TYPE>``.

tldextract (used by presidio's email recognizer) would fetch the public suffix list over the
network on first use; it is pointed at its bundled snapshot instead (``suffix_list_urls=()``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

# A prefilter: every entity we detect contains a digit or an '@'; text with neither cannot hold one,
# so presidio is skipped for it (most chat messages).
_MAYBE_PII = re.compile(r"[@\d]")
_lock = threading.Lock()


def _offline_tldextract() -> None:
    import tldextract.tldextract as tld

    if tld.TLD_EXTRACTOR.suffix_list_urls:
        tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


@lru_cache(maxsize=4)
def _engines(phone_regions: tuple[str, ...]):
    _offline_tldextract()
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )
    from presidio_anonymizer import AnonymizerEngine

    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        EmailRecognizer(),
        PhoneRecognizer(supported_regions=phone_regions),
        CreditCardRecognizer(),
        UsSsnRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        PatternRecognizer(
            supported_entity="ORDER_ID",
            name="AmazonOrderIdRecognizer",
            patterns=[Pattern("amazon order id", r"\b\d{3}-\d{7}-\d{7}\b", 0.9)],
            context=["order"],
        ),
    ):
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=NoOpNlpEngine([{"lang_code": "en", "model_name": "no-op"}]),
        supported_languages=["en"],
    )
    return analyzer, AnonymizerEngine()


@dataclass
class Redaction:
    text: str
    entities: list[str]  # entity types found, in order of appearance
    # order numbers the shopper gave, masked to their last four digits ("112-…-4567"): enough for the
    # turn to use and for a person to find the order, never the whole number (US-10.3)
    order_refs: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.entities)


def redact(text: str, settings: dict | None = None, *, allow: frozenset[str] | None = None) -> Redaction:
    """``text`` with every PII finding replaced by ``<ENTITY_TYPE>``, except the exact strings in
    ``allow`` (presidio's ``allow_list``: published text such as an example order number)."""
    settings = settings or {}
    if not text or not _MAYBE_PII.search(text):
        return Redaction(text, [])
    from presidio_anonymizer.entities import OperatorConfig

    analyzer, anonymizer = _engines(tuple(settings.get("phone_regions") or ("US", "GB")))
    entities = settings.get("entities") or None
    with _lock:  # the recognizers are not documented as thread-safe; a call is ~0.1-2 ms
        findings = analyzer.analyze(
            text,
            language="en",
            entities=entities,
            score_threshold=float(settings.get("score_threshold", 0.35)),
            allow_list=sorted(allow) if allow else None,
        )
    if not findings:
        return Redaction(text, [])
    result = anonymizer.anonymize(
        text=text,
        analyzer_results=findings,
        operators={
            "DEFAULT": OperatorConfig("replace", {"new_value": "<PII>"}),
            **{f.entity_type: OperatorConfig("replace", {"new_value": f"<{f.entity_type}>"}) for f in findings},
        },
    )
    ordered = sorted(findings, key=lambda f: f.start)
    refs = [order_ref(text[f.start : f.end]) for f in ordered if f.entity_type == "ORDER_ID"]
    return Redaction(result.text, [f.entity_type for f in ordered], refs)


def order_ref(order_id: str) -> str:
    """An order number masked for storage: its first group and last four digits."""
    return f"{order_id[:3]}-…-{order_id[-4:]}"


def redact_text(text: str) -> str:
    """Convenience for storage paths (feedback comments, logs): the default settings, text only."""
    return redact(text).text
