"""The streaming guardrail (US-7.4): a light pattern filter on every chunk of a streamed answer.

It looks for PII shapes (email, phone and card numbers, SSNs), competitor names and profanity.
The last ``window_chars`` characters are held back before they are sent, and every scan covers the
held-back text plus the newest chunk and the tail already sent, so a pattern split across chunks
("jane.doe@exa" + "mple.com") is still caught before its end reaches the client. On a violation
the caller stops generation and replaces the partial answer with the policy's fallback; the full
post-generation checks still run on the assembled answer.

Facts are held too (issue 19 item 7): a price, an ASIN or a link is not sent until it is complete
and checked, against the same facts the post-generation checks use (``StreamFacts``: the retrieved
context and the catalog). A price or ASIN they do not hold stops generation before it reaches the
shopper (the post checks and the strict regeneration then decide, as for an assembled answer); a
link to a host outside the policy's allowed domains is sent as "[link removed]".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlsplit

from guardrails.catalog import catalog_facts
from guardrails.checks import _ASIN, _PRICE, _URL, Decision, _money, _term_pattern, allowed_prices
from guardrails.policy import Policy

FACT_PATTERNS = ("fabricated_price", "unknown_asin")
_FACTS = re.compile(f"(?P<price>{_PRICE.pattern})|(?P<asin>{_ASIN.pattern})|(?P<url>{_URL.pattern})", re.IGNORECASE)


@dataclass
class StreamFacts:
    """What a streamed fact is checked against: ``prices(text)`` gives the prices the context and the
    catalog hold for the answer so far (titles it names add theirs), ``asins`` the catalog's ASINs,
    ``url_domains`` the hosts a link may point to (a subdomain counts)."""

    prices: Callable[[str], set[Decimal]] | None  # None: the policy does not check this kind
    asins: frozenset[str] | None
    url_domains: tuple[str, ...] | None = ()

    def url_allowed(self, url: str) -> bool:
        if self.url_domains is None:
            return True
        host = (urlsplit(url if "://" in url else f"http://{url}").hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.url_domains)


_EMAIL = r"[\w.+\-]+@[\w\-]+\.[\w.\-]*[a-z]{2,}"
_NUMBER = r"(?<![\w$.,])\+?\(?\d[\d\s().\-]{7,22}\d(?![\w])"
_SSN = r"\b\d{3}-\d{2}-\d{4}\b"


@lru_cache(maxsize=16)
def _patterns(terms: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern | None]:
    shapes = re.compile(f"(?P<email>{_EMAIL})|(?P<ssn>{_SSN})|(?P<number>{_NUMBER})", re.IGNORECASE)
    return shapes, _term_pattern(terms)


def published_shapes(context: str) -> frozenset[str]:
    """PII-shaped strings that appear verbatim in the retrieved context: the store's own published
    text (an example order number in the FAQ), not a leak. Knowledge documents are ours; user data
    never enters them."""
    shapes, _ = _patterns(())
    return frozenset(m.group(0).strip() for m in shapes.finditer(context))


def stream_facts(hits: list, policy: Policy) -> StreamFacts | None:
    """The facts a turn's streamed answer is held to, as the post checks would hold it (None when
    the policy checks neither prices, ASINs nor links)."""
    if not any(policy.enabled(c) for c in ("price", "asin", "url")):
        return None
    facts = catalog_facts() if (policy.enabled("price") or policy.enabled("asin")) else None
    domains = tuple(d.lower() for d in policy.check("url").get("allowed_domains", [])) if policy.enabled("url") else ()
    return StreamFacts(
        prices=(lambda text: allowed_prices(text.lower(), hits, facts)) if policy.enabled("price") else None,
        asins=facts.asins if policy.enabled("asin") else None,
        url_domains=domains if policy.enabled("url") else None,
    )


class StreamGuard:
    def __init__(self, policy: Policy, *, allow: frozenset[str] = frozenset(), facts: StreamFacts | None = None):
        settings = policy.check("stream")
        self.enabled = bool(settings.get("enabled", False))
        self.window = int(settings.get("window_chars", 48))
        competitors = tuple(policy.config.get("competitors", []))
        profanity = tuple(policy.config.get("profanity", []) + policy.config.get("toxicity_terms", []))
        self._shapes, self._competitors = _patterns(competitors)
        self._profanity = _term_pattern(profanity)
        self.allow = allow
        self.facts = facts
        self._ok_prices: set[Decimal] = set()
        self.seen = ""  # everything received: the titles it names widen the allowed prices
        self.links_removed = 0
        self.held = ""  # received, not yet sent
        self.sent_tail = ""  # the last ``window`` characters sent
        self.chunks = 0
        self.latencies_ms: list[float] = []
        self.violation: Decision | None = None

    def _scan(self, text: str) -> tuple[str, str] | None:
        for match in self._shapes.finditer(text):
            kind = match.lastgroup
            found = match.group(0).strip()
            if self.allow and any(found in allowed for allowed in self.allow):  # also a piece cut by the window
                continue
            if kind == "number":
                digits = sum(c.isdigit() for c in match.group(0))
                if digits < 10 or digits > 19:  # dates, quantities, prices are shorter
                    continue
                kind = "card_number" if digits >= 13 and "(" not in match.group(0) else "phone_number"
            return kind, match.group(0)
        if self._competitors is not None:
            match = self._competitors.search(text)
            if match:
                return "competitor", match.group(0)
        if self._profanity is not None:
            match = self._profanity.search(text)
            if match:
                return "profanity", match.group(0)
        return None

    def feed(self, chunk: str) -> str:
        """Take a chunk; return the text that may be sent now ("" while holding back or after a
        violation, which is then in ``self.violation``)."""
        if self.violation is not None:
            return ""
        if not self.enabled:
            return chunk
        started = time.perf_counter()
        self.chunks += 1
        self.held += chunk
        self.seen += chunk
        found = self._scan(self.sent_tail + self.held)
        if found is None and self.facts is not None:
            found = self._check_facts()
        if found is not None:
            self._violate(found, started)
            return ""
        cut = max(0, len(self.held) - self.window)
        if self.facts is not None:
            cut = min(cut, self._incomplete_from())
        out, self.held = self.held[:cut], self.held[cut:]
        if out:
            self.sent_tail = (self.sent_tail + out)[-self.window :]
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        return out

    def _check_facts(self) -> tuple[str, str] | None:
        """Check every complete price, ASIN and link in the held text; rewrite a disallowed link."""
        for m in list(_FACTS.finditer(self.held)):
            if m.end() >= len(self.held.rstrip(".,")):  # it may go on in the next chunk: wait
                continue
            kind, found = m.lastgroup, m.group(0)
            if kind == "price" and self.facts.prices is not None:
                amount = _money(_PRICE.match(found).group(1))
                if amount is not None and amount not in self._ok_prices:
                    if amount not in self.facts.prices(self.seen):
                        return "fabricated_price", found
                    self._ok_prices.add(amount)
            elif kind == "asin" and self.facts.asins is not None:
                asin = next(g for g in _ASIN.match(found).groups() if g)
                if asin not in self.facts.asins:
                    return "unknown_asin", found
            elif kind == "url" and not self.facts.url_allowed(found):
                self.held = self.held.replace(found, "[link removed]", 1)
                self.links_removed += 1
        return None

    def _incomplete_from(self) -> int:
        """Where in the held text a price, ASIN or link that may still go on starts (else its end):
        the window holds a short one anyway; a long link is held from its start until it ends."""
        for m in _FACTS.finditer(self.held):
            if m.end() >= len(self.held.rstrip(".,")):
                return m.start()
        return len(self.held)

    def finish(self) -> str:
        """The end of the stream: the held-back text (already scanned with every chunk)."""
        if self.violation is not None:
            return ""
        if self.facts is not None:
            self.held += "\n"  # nothing follows: every fact in the held text is complete now
            found = self._check_facts()
            self.held = self.held[:-1]
            if found is not None:
                self._violate(found, time.perf_counter())
                return ""
        out, self.held = self.held, ""
        return out

    def _violate(self, found: tuple[str, str], started: float) -> None:
        kind, matched = found
        elapsed = (time.perf_counter() - started) * 1000
        self.latencies_ms.append(elapsed)
        # the matched text is PII or a term from the policy: keep only its kind and length
        self.violation = Decision(
            "stream_filter", "stream", "block", elapsed, {"pattern": kind, "chars": len(matched), "chunk": self.chunks}
        )

    def decision(self) -> Decision:
        """The streaming check's decision for the trace: its violation, or a pass with per-chunk timings."""
        if self.violation is not None:
            return self.violation
        total = sum(self.latencies_ms)
        worst = max(self.latencies_ms, default=0.0)
        return Decision(
            "stream_filter",
            "stream",
            "pass" if self.enabled else "skip",
            total,
            {"chunks": self.chunks, "max_chunk_ms": round(worst, 4), "links_removed": self.links_removed},
        )
