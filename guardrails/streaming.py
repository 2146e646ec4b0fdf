"""The streaming guardrail (US-7.4): a light pattern filter on every chunk of a streamed answer.

It looks for PII shapes (email, phone and card numbers, SSNs), competitor names and profanity.
The last ``window_chars`` characters are held back before they are sent, and every scan covers the
held-back text plus the newest chunk and the tail already sent, so a pattern split across chunks
("jane.doe@exa" + "mple.com") is still caught before its end reaches the client. On a violation
the caller stops generation and replaces the partial answer with the policy's fallback; the full
post-generation checks still run on the assembled answer.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

from guardrails.checks import Decision, _term_pattern
from guardrails.policy import Policy

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


class StreamGuard:
    def __init__(self, policy: Policy, *, allow: frozenset[str] = frozenset()):
        settings = policy.check("stream")
        self.enabled = bool(settings.get("enabled", False))
        self.window = int(settings.get("window_chars", 48))
        competitors = tuple(policy.config.get("competitors", []))
        profanity = tuple(policy.config.get("profanity", []) + policy.config.get("toxicity_terms", []))
        self._shapes, self._competitors = _patterns(competitors)
        self._profanity = _term_pattern(profanity)
        self.allow = allow
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
        found = self._scan(self.sent_tail + self.held)
        if found is not None:
            self._violate(found, started)
            return ""
        cut = max(0, len(self.held) - self.window)
        out, self.held = self.held[:cut], self.held[cut:]
        if out:
            self.sent_tail = (self.sent_tail + out)[-self.window :]
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        return out

    def finish(self) -> str:
        """The end of the stream: the held-back text (already scanned with every chunk)."""
        if self.violation is not None:
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
            {"chunks": self.chunks, "max_chunk_ms": round(worst, 4)},
        )
