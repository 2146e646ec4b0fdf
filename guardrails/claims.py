"""Claim-level faithfulness (issue 18 item 5): each checkable claim of an answer against the context
it cites.

Word overlap cannot see a contradiction: "Berserk Vol. 1 is not by Kentaro Miura, it is out of stock
and never available" shares almost every word with a context that says the opposite. Here each
claim is checked on its own, the way claim-based metrics (RAGAS faithfulness, FActScore) decompose an
answer, with rules instead of a model for the claim types a shop answer carries:

- **numbers**: every price, volume, count, percentage and date in the answer occurs in the context
  (or the question): "$14.99", "Vol. 3", "30 days", "2024-03-01";
- **authors**: an author the catalog knows, named in the answer, is the context's author, and is not
  denied ("not by X") where the context says "Author: X";
- **availability**: "in stock" / "out of stock" / "pre-order" / "never available" agree with the
  context's availability;
- **negations**: a sentence that denies something ("isn't", "not", "never", "no longer") must not
  deny what the context states: with the negation removed, its content words must not be a
  statement of the context.

``check(answer, context)`` returns each claim with its verdict; the score is the share of claims
supported (None when the answer makes no checkable claim).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

_CITATION = re.compile(r"\[\d+\]")
_SENTENCES = re.compile(
    r"(?<!\bVol\.)(?<!\bvol\.)(?<!\bNo\.)(?<=[.!?])\s+|\n+|;\s+|,\s+(?=(?:and\s+)?(?:it|they|this|that)\b)"
    r"|,?\s+but\s+|:\s+(?=[A-Z])"
)
_ORDER_REF = re.compile(r"\b\d{3}-(?:…|\.\.\.|\d{7})-\d{4,7}\b")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\d])")
_NEGATION = re.compile(
    r"\b(?:not|never|no longer|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|cannot|can't|won't|no)\b", re.I
)
_WORD = re.compile(r"[a-z0-9][a-z0-9'.-]*")
_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
_UNITS += "seventeen eighteen nineteen"
UNITS = {w: i for i, w in enumerate(_UNITS.split())}
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
TENS = {w: 10 * (i + 2) for i, w in enumerate(_TENS_WORDS.split())}
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_MONTH_NAMES = "january february march april may june july august september october november december"
MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES.split())}
_DIGIT = "|".join(k for k in UNITS if 0 < UNITS[k] < 10)
_TEEN = "|".join(k for k in UNITS if UNITS[k] >= 10)
_TENS = "|".join(TENS)
_TWO_DIGITS = rf"(?:(?:{_TENS})(?:[- ](?:{_DIGIT}))?|{_TEEN})"
_CARD = rf"(?:{_TWO_DIGITS}|{'|'.join(UNITS)})"
_CARD_BIG = rf"(?:(?:{_DIGIT}) hundred(?: and)?(?: {_CARD})?|{_CARD})"
_ORD = rf"(?:(?:{_TENS})[- ](?:{'|'.join(ORDINALS)})|{'|'.join(ORDINALS)})"
_MONTH = "|".join(MONTHS)
_UNIT = (
    r"(?:business |working |calendar )?(?:days?|weeks?|months?|years?|hours?|volumes?|books?|items?|dollars?|percent)"
)
# Only number words that state a fact are read as numbers: a price said aloud ("twelve ninety-nine"),
# a count with its unit ("seven to ten business days", "five days"), a date ("the twenty-eighth of May,
# 2023", "March 2027"). "One of the best" and "the first arc" stay words.
_SPOKEN_PRICE = re.compile(rf"\b({_CARD_BIG}) ({_TWO_DIGITS})\b(?! {_UNIT})", re.I)
_COUNT = re.compile(rf"\b({_CARD_BIG})(?=(?: to | or |-)(?:{_CARD_BIG}) {_UNIT}\b| {_UNIT}\b)", re.I)
_RANGE_END = re.compile(rf"(?<=\d)( to | or |-)({_CARD_BIG})(?= {_UNIT}\b)", re.I)
_ORD_DATE = re.compile(
    rf"\b(?:the )?({_ORD}) of ({_MONTH}),? (\d{{4}})\b|\b({_MONTH}) (?:the )?({_ORD}),? (\d{{4}})\b", re.I
)
_MONTH_DATE = re.compile(rf"\b({_MONTH})\.?(?: (\d{{1,2}})(?:st|nd|rd|th)?,?)? (\d{{4}})\b", re.I)
_DAY_OF_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? of ({_MONTH}),? (\d{{4}})\b", re.I)


def _value(words: str) -> int:
    parts = [p for p in re.split(r"[- ]+", words.lower()) if p and p != "and"]
    total = 0
    for p in parts:
        if p == "hundred":
            total = (total or 1) * 100
        else:
            total += TENS.get(p, UNITS.get(p, ORDINALS.get(p, 0)))
    return total


def spell_numbers(text: str) -> str:
    """Number words that state a fact as digits (see the patterns above), so "seven to ten business
    days", "twelve ninety-nine", "the twenty-eighth of May, 2023" and "March 2027" are checked like
    "7 to 10", "12.99", "2023-05-28" and "2027-03"; applied to the answer and the context alike."""
    if not re.search(r"[a-z]", text, re.I):
        return text

    def ord_date(m: re.Match) -> str:
        day, month, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(4), m.group(6))
        return f"{year}-{MONTHS[month.lower()]:02d}-{_value(day):02d}"

    text = _ORD_DATE.sub(ord_date, text)
    text = _SPOKEN_PRICE.sub(lambda m: f"{_value(m.group(1))}.{_value(m.group(2)):02d}", text)
    text = _COUNT.sub(lambda m: str(_value(m.group(1))), text)
    text = _RANGE_END.sub(lambda m: f"{m.group(1)}{_value(m.group(2))}", text)
    text = _DAY_OF_MONTH.sub(lambda m: f"{m.group(3)}-{MONTHS[m.group(2).lower()]:02d}-{int(m.group(1)):02d}", text)
    return _MONTH_DATE.sub(
        lambda m: f"{m.group(3)}-{MONTHS[m.group(1).lower()]:02d}" + (f"-{int(m.group(2)):02d}" if m.group(2) else ""),
        text,
    )


_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "as",
        "so",
        "if",
        "then",
        "than",
        "there",
        "here",
        "you",
        "your",
        "we",
        "our",
        "they",
        "their",
        "he",
        "she",
        "his",
        "her",
        "i",
        "me",
        "my",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "just",
        "also",
        "very",
        "more",
        "most",
        "any",
        "some",
        "all",
        "each",
        "not",
        "never",
        "no",
        "longer",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "doesn't",
        "don't",
        "didn't",
        "cannot",
        "can't",
        "won't",
    ]
)
AVAILABILITY = {
    "in_stock": re.compile(
        r"\b(?:in stock|available (?:right )?now|available today|ready to ship|ships? (?:now|today|within))\b", re.I
    ),
    "out_of_stock": re.compile(
        r"\b(?:out of stock|sold out|unavailable|not (?:currently )?(?:in stock|available))\b", re.I
    ),
    "pre_order": re.compile(r"\b(?:pre-?order)\b", re.I),
    "never": re.compile(r"\b(?:never (?:be )?(?:available|in stock|released|sold)|not (?:ever )?for sale)\b", re.I),
}


@dataclass
class Claim:
    kind: str  # number | author | availability | negation
    text: str
    supported: bool
    reason: str = ""


@dataclass
class ClaimReport:
    claims: list[Claim] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        return None if not self.claims else sum(c.supported for c in self.claims) / len(self.claims)

    @property
    def failed(self) -> list[Claim]:
        return [c for c in self.claims if not c.supported]


@lru_cache(maxsize=1)
def _authors() -> tuple[str, ...]:
    import json
    from pathlib import Path

    catalog = json.loads((Path(__file__).resolve().parents[1] / "chat/data/catalog.json").read_text())
    names = {p["author"] for p in catalog if p.get("author")}
    names |= {part for name in names for part in _co_authors(name)}  # "Aka Akasaka, Mengo Yokoyari"
    return tuple(sorted(names, key=len, reverse=True))


def _co_authors(name: str) -> set[str]:
    return {part.strip() for part in re.split(r",|\band\b|&", name) if len(part.strip()) > 3}


@lru_cache(maxsize=1)
def _author_patterns() -> tuple[re.Pattern, re.Pattern, dict[str, int]]:
    """One compiled alternation of every known author (longest first), as a name and after "by ",
    and each author's rank: one regex search per sentence instead of one per author (the guard runs
    on every answer, in a thread beside the event loop, so its CPU is everyone's latency)."""
    names = "|".join(re.escape(a) for a in _authors())
    return re.compile(rf"\b(?:{names})\b"), re.compile(rf"\bby ({names})\b"), {a: i for i, a in enumerate(_authors())}


def _author_named(sentence: str) -> str | None:
    """The author the sentence names; of several, the longest name (case kept: the author ONE is not "One Piece")."""
    rx, _, rank = _author_patterns()
    found = {m.group(0) for m in rx.finditer(sentence)}
    return min(found, key=rank.__getitem__) if found else None


def number_key(value: str) -> str:
    """ "9.00", "$9" and "9" are one number."""
    return f"{float(re.sub(r'[^0-9.]', '', value) or 0):g}"


def _numbers(text: str) -> set[str]:
    """Every number the text states (prices, volumes, counts, dates, ages), normalised, a date as its
    parts; order numbers (masked or not) are the shopper's reference, not a claim."""
    return {number_key(n) for n in _NUMBER.findall(spell_numbers(_ORDER_REF.sub(" ", text)))}


def _content(text: str) -> set[str]:
    return {w.strip(".'") for w in _WORD.findall(text.lower()) if w.strip(".'") not in _STOP and len(w) > 2}


_NOT_AVAILABILITY = re.compile(
    r"\b(?:is ?n[o']t|are ?n[o']t|not|no longer)\s+(?:currently\s+|yet\s+|actually\s+)?(?:a\s+)?"
    r"(?P<what>out of stock|sold out|in stock|pre-?order(?:ed)?|available)\b",
    re.I,
)
_FLIP = {"out of stock": "in stock", "sold out": "in stock", "in stock": "out of stock", "available": "out of stock"}


def _availability(text: str) -> set[str]:
    # a negated phrase says the opposite ("isn't in stock" = out of stock, "isn't out of stock" = in
    # stock); "not a pre-order" says nothing of the stock
    text = _NOT_AVAILABILITY.sub(lambda m: f" {_FLIP.get(m.group('what').lower(), '')} ", text)
    found = {k for k, rx in AVAILABILITY.items() if rx.search(text)}
    if "out_of_stock" in found or "never" in found:
        found.discard("in_stock")  # "not in stock" matched both
    return found


def _context_author_of(context: str) -> set[str]:
    """Every author the context names, co-authors one by one as well as together."""
    found = {a.strip() for a in re.findall(r"Author:\s*([^.\n]+)", context)} | {
        m.group(1) for m in _author_patterns()[1].finditer(context)
    }
    return found | {part for name in found for part in _co_authors(name)}


def _author_denied(sentence: str, author: str) -> bool:
    """ "not by X", "isn't an X series", "X didn't write it", "it wasn't X who drew it"."""
    a = re.escape(author)
    before = re.search(rf"(?:\bnot\b|n't\b|\bnever\b|\bno\b)[^.,;()]*\b{a}\b", sentence, re.I)
    after = re.search(
        rf"\b{a}\b[^.,;()]*?\b(?:did ?n[o']t|does ?n[o']t|never|is ?n[o']t|was ?n[o']t)\b\s*"
        rf"(?:actually\s+)?(?:write|wrote|written|draw|drew|drawn|create|created|author|the author)",
        sentence,
        re.I,
    )
    return bool(before or after)


_VOL = re.compile(r"\b(?:vol(?:ume)?\.?)\s*(\d+)\b", re.I)
_TITLE_END = re.compile(r"(?<!Vol)(?<!vol)(?<!No)\.\s")
_CONDITIONAL = re.compile(r"^\W*(?:when|if|once|until|while|whenever)\b", re.I)


def _titles(chunks: list[str]) -> list[tuple[str, set[str], set[str], set[str]]]:
    """Each chunk with its title's content words, numbers and volumes (computed once per check)."""
    out = []
    for chunk in chunks:
        title = _TITLE_END.split(chunk, maxsplit=1)[0]
        out.append((chunk, _content(title), _numbers(title), set(_VOL.findall(title))))
    return out


def _chunk_about(sentence: str, titles: list[tuple[str, set[str], set[str], set[str]]]) -> str | None:
    """The context chunk (one product, one page) the sentence talks about: the one whose title it
    names best, its volume number included ("Dandadan, Vol. 1", not Vol. 6; "Berserk, Vol. 2", not
    "Berserk Deluxe Edition, Vol. 2"); None when it names none."""
    words, numbers = _content(sentence), _numbers(sentence)
    volumes = set(_VOL.findall(sentence))
    best, best_key = None, None
    for chunk, title_words, title_numbers, title_volumes in titles:
        if not title_words & words or not title_numbers <= numbers or (title_volumes and not title_volumes & volumes):
            continue
        key = (len(title_words & words) / len(title_words), len(title_numbers & numbers), len(title_words & words))
        if best_key is None or key > best_key:
            best, best_key = chunk, key
    return best


def check(answer: str, context: str, question: str = "") -> ClaimReport:
    """Every checkable claim of ``answer`` against ``context`` (and the question's own numbers)."""
    report = ClaimReport()
    text = _CITATION.sub(" ", answer)
    known_numbers = _numbers(context) | _numbers(question)
    for number in sorted(_numbers(text)):
        report.claims.append(
            Claim("number", number, number in known_numbers, "" if number in known_numbers else "not in the context")
        )
    context_authors = _context_author_of(context)
    chunks = [c for c in context.split("\n") if c.strip()] or [context]
    titles = _titles(chunks)
    with_availability = [c for c in chunks if _availability(c)]
    lone = with_availability[0] if len(with_availability) == 1 else None  # one product: every claim is about it
    subject = None
    context_sentences = [(_content(c), c) for c in _SENTENCES.split(_CITATION.sub(" ", context)) if c.strip()]
    for sentence in (s.strip() for s in _SENTENCES.split(text) if s.strip()):
        negated = bool(_NEGATION.search(sentence))
        author = _author_named(sentence)
        about_author = author is not None
        if author is not None:
            denied = negated and _author_denied(sentence, author)
            if denied:
                ok = author not in context_authors
                report.claims.append(Claim("author", sentence, ok, "" if ok else f"the context says {author}"))
            else:
                ok = not context_authors or author in context_authors
                reason = "" if ok else f"the context's author is {', '.join(sorted(context_authors))}"
                report.claims.append(Claim("author", sentence, ok, reason))
        stated = _availability(sentence)
        # availability is about one product: compare with the context chunk the sentence is about
        # (most shared content words), not with every product the context lists
        named = _chunk_about(sentence, titles)
        subject = named or subject  # "it is out of stock" is about the product named before
        chunk = (named or subject or lone) if stated and not _CONDITIONAL.match(sentence) else None
        chunk_avail = _availability(chunk) if chunk else set()
        if stated and chunk_avail:
            context_avail = chunk_avail
            clash = (
                ("in_stock" in stated and context_avail & {"out_of_stock", "never"})
                or ("out_of_stock" in stated and "in_stock" in context_avail)
                or ("never" in stated and context_avail & {"in_stock", "pre_order", "out_of_stock"})
                or ("pre_order" in stated and "pre_order" not in context_avail)
            )
            report.claims.append(
                Claim(
                    "availability",
                    sentence,
                    not clash,
                    f"the context says {', '.join(sorted(context_avail))}" if clash else "",
                )
            )
        elif negated and not stated and not about_author:
            # a denial of something the context states: the sentence without its negation is a
            # statement of the context (most of its content words are the context's)
            words = _content(_NEGATION.sub(" ", sentence))
            if len(words) >= 2:
                share, closest = max(
                    ((len(words & cw) / len(words), c) for cw, c in context_sentences), default=(0.0, "")
                )
                denies = share >= 0.8 and not _NEGATION.search(closest)
                report.claims.append(
                    Claim("negation", sentence, not denies, "it denies what the context states" if denies else "")
                )
    return report
