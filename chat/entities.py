"""Catalog entity linking (issue 19 item 1): which series, volume, edition and author a message names.

Runs before the intent model has the last word. A gazetteer is built from the catalog (every series,
its short and long forms, its authors) plus a hand-kept table of aliases shoppers use: abbreviations
(JJK, AoT, SxF, MHA), romanised Japanese titles (Shingeki no Kyojin), Japanese script (呪術廻戦).

- Exact names are found in one pass by an Aho-Corasick automaton (pyahocorasick), leftmost-longest,
  on word boundaries for Latin script ("Akira Toriyama" is the author, not the series Akira).
- Typos within a small edit distance are found by rapidfuzz (optimal string alignment distance, so
  a swapped pair of letters costs one edit) over word windows of the message the exact pass left.
- Volumes: "vol 3", "vol. 3", "volume three", "first volume", "book 2", "#5", "1巻", "第1巻".

A link is **strong** when the name is unambiguous (not a common English word such as "monster"),
when the message carries a shopping cue ("manga", "do you have", a volume), or when two names
point at the same series. Only strong links change what the turn does: a message that names a
catalog entity is never answered as ``out_of_scope`` or ``chitchat``, and retrieval boosts the
named series and volume. Like the rule pre-filter of seed 004 US-02, the gazetteer never overrides
``return_request`` or ``escalation``: it only lifts the two intents that would throw the catalog away.

The acceptance phrasings (tests/chat/data/entity_phrasings.tsv) were written by hand before this
table and are not read by anything here.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import ahocorasick
import numpy as np
from rapidfuzz.distance import OSA
from rapidfuzz.process import cdist

TTL = 60.0  # seconds between checks that the catalog's series and authors are unchanged

# Names shoppers use that the catalog does not spell out. Keys are catalog series.
ALIASES: dict[str, tuple[str, ...]] = {
    "Attack on Titan": ("aot", "shingeki no kyojin", "snk", "進撃の巨人", "attack on titans"),
    "Jujutsu Kaisen": ("jjk", "jujutsu", "呪術廻戦"),
    "Spy x Family": ("sxf", "spyxfamily", "spy family", "spy×family", "スパイファミリー"),
    "My Hero Academia": ("mha", "bnha", "boku no hero academia", "僕のヒーローアカデミア"),
    "Demon Slayer: Kimetsu no Yaiba": ("kny", "kimetsu", "鬼滅の刃"),
    "Chainsaw Man": ("csm", "chainsawman", "チェンソーマン"),
    "One Piece": ("ワンピース",),
    "Naruto": ("ナルト", "ナルト疾風伝"),
    "Berserk": ("ベルセルク",),
    "Fullmetal Alchemist": ("fma", "fmab", "full metal alchemist", "hagane no renkinjutsushi", "鋼の錬金術師"),
    "Frieren: Beyond Journey's End": ("sousou no frieren", "葬送のフリーレン", "フリーレン"),
    "Tokyo Ghoul": ("東京喰種", "トーキョーグール"),
    "Dragon Ball": ("dragonball", "ドラゴンボール"),
    "Death Note": ("deathnote", "デスノート"),
    "Vagabond": ("バガボンド",),
    "Vinland Saga": ("vinland", "ヴィンランド・サガ", "ヴィンランドサガ"),
    "Monster": ("モンスター",),
    "Blue Lock": ("bluelock", "ブルーロック"),
    "Oshi no Ko": ("oshinoko", "推しの子"),
    "Dandadan": ("dan da dan", "ダンダダン"),
    "Kaguya-sama: Love Is War": ("kaguya", "kaguya sama wa kokurasetai", "かぐや様は告らせたい"),
    "Haikyu!!": ("haikyuu", "haikyu", "ハイキュー", "ハイキュー!!"),
    "Mob Psycho 100": ("mob psycho", "mp100", "モブサイコ100"),
    "Sailor Moon": (
        "sailormoon",
        "bishoujo senshi sailor moon",
        "pretty guardian sailor moon",
        "美少女戦士セーラームーン",
    ),
    "Akira": ("アキラ",),
    "Nausicaa of the Valley of the Wind": ("nausicaa", "nausicaä", "kaze no tani no nausicaa", "風の谷のナウシカ"),
}

# Names that are also ordinary words or phrases: linked, but weak on their own ("monster" in a
# sentence about a video game, "one piece" swimsuits, "go berserk", the given name Akira).
WEAK = frozenset({"monster", "vagabond", "akira", "berserk", "one piece", "love is war", "kaguya", "jujutsu"})
# English words one edit from a name: never read as a typo of it ("write me a haiku" is not Haikyu!!).
NOT_FUZZY = frozenset({"haiku", "haikus", "akita", "monsters", "monstera", "vagabonds", "nature", "berserker"})

# Words that say the message is about buying or reading something.
_CUE = re.compile(
    r"\b(?:manga|mangas|vol|vols|volume|volumes|books?|series|comics?|box ?set|deluxe|hardcovers?|paperbacks?|"
    r"kindle|editions?|author|written by|drawn by|anything by|price|prices|cost|costs|buy|purchase|in stock|"
    r"restock|available|availability|recommend|release date|english edition|"
    r"do (?:you|u|y'all) (?:have|sell|carry|stock)|have you got|got any)\b|^(?:got|any|have)\b|[巻冊]|ありますか",
    re.IGNORECASE,
)

_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_ORDINALS = {
    w: i
    for i, w in enumerate(
        [
            "zeroth",
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
        ]
    )
}
_NUM = r"(?P<n>\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_ORD = r"(?P<o>\d{1,3}(?:st|nd|rd|th)|" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")"
_VOLUME_PATTERNS = (
    re.compile(
        r"\b(?:vol(?:ume)?s?\.?|book|number|edition|#|no\.)\s*" + _NUM + r"\b(?!\s*(?:to|-|–)\s*\d)", re.IGNORECASE
    ),
    re.compile(r"(?<![a-z])v\.?\s?(?P<n>\d{1,3})\b", re.IGNORECASE),  # "v3", "v.3"
    re.compile(r"#\s*(?P<n>\d{1,3})\b"),
    re.compile(
        r"\b" + _ORD + r"\s+(?:vol(?:ume)?|book|one|installment|tankobon|hard ?(?:back|cover)|paperback|edition)\b",
        re.IGNORECASE,
    ),
    # "the first Tokyo Ghoul volume": an ordinal, a few words (the title), then the word volume
    re.compile(r"\b" + _ORD + r"\s+(?:\S+\s+){1,5}?(?:vol(?:ume)?|book)\b", re.IGNORECASE),
    re.compile(r"第?\s*(?P<n>\d{1,3})\s*[巻冊]"),
)

# "<title> 3": a bare number right after the name is its volume, unless it is an age, a year, a
# range, a count or a box set's number
_AFTER_NAME = re.compile(
    r"(?:\s+(?:hard ?cover|hardback|paperback|deluxe|edition|kindle))?\s*(?P<n>\d{1,3}|"
    + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
    + r")\b"
    r"(?!\s*(?:years?|yrs?|yo|y/o|year-old|%|in ?1|to\s|-\s*\d|–|th\b|st\b|nd\b|rd\b|volumes|books|copies|sets)|\.\d)",
    re.IGNORECASE,
)

_FORMATS = (
    (re.compile(r"\bdeluxe\b|\bdlx\b", re.IGNORECASE), "deluxe"),
    (re.compile(r"\bbox ?sets?\b|\bcomplete set\b", re.IGNORECASE), "box_set"),
    (re.compile(r"\bhard ?covers?\b|\bhardbacks?\b", re.IGNORECASE), "hardcover"),
    (re.compile(r"\bkindle\b|\be-?books?\b|\bdigital\b", re.IGNORECASE), "kindle"),
    (re.compile(r"\bpaperbacks?\b|\bsoftcovers?\b", re.IGNORECASE), "paperback"),
)

_PUNCT = re.compile(r"[^\w\s\u3040-\u30ff\u4e00-\u9fff×]+")
_SPACE = re.compile(r"\s+")
_LATIN = re.compile(r"[a-z0-9]")


def normalise(text: str) -> str:
    """Lower case, NFKC (full-width forms to ASCII), apostrophes dropped ("journey's" → "journeys"),
    other punctuation to spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("\u2019", "")
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


@dataclass(frozen=True)
class Mention:
    """One name found in the message: its normalised text, where, what it names, how it matched."""

    text: str
    start: int
    end: int
    kind: str  # "series" | "author"
    series: tuple[str, ...]
    match: str  # "exact" | "fuzzy"
    weak: bool

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "kind": self.kind,
            "series": list(self.series),
            "match": self.match,
            **({"weak": True} if self.weak else {}),
        }


@dataclass(frozen=True)
class Entities:
    mentions: tuple[Mention, ...] = ()
    volume: int | None = None
    format: str | None = None
    cue: bool = False
    series: tuple[str, ...] = field(default=())  # the series the message names, in order of mention

    @property
    def strong(self) -> bool:
        """Confident enough to change the intent and the retrieval."""
        if not self.mentions:
            return False
        if any(not m.weak for m in self.mentions) or self.volume is not None:
            return True
        counts: dict[str, int] = {}
        for m in self.mentions:
            for s in m.series:
                counts[s] = counts.get(s, 0) + 1
        return any(c >= 2 for c in counts.values())

    def as_dict(self) -> dict:
        return {
            "series": list(self.series),
            "volume": self.volume,
            "format": self.format,
            "strong": self.strong,
            "mentions": [m.as_dict() for m in self.mentions],
        }


@dataclass
class Gazetteer:
    version: str
    automaton: object
    fuzzy_names: list[str]
    fuzzy_targets: list[tuple[str, tuple[str, ...], bool]]  # (kind, series, weak) per fuzzy name
    fuzzy_limits: np.ndarray  # the largest edit distance each name allows
    fuzzy_first: np.ndarray  # the code point of each name's first letter (a typo keeps it)
    series: tuple[str, ...]


def _surname_aliases(author: str) -> list[str]:
    names = []
    for person in (p.strip() for p in author.split(",")):
        if len(person) < 4:  # "ONE" (Mob Psycho 100) would match the word one
            continue
        names.append(person)
        parts = person.split()
        if len(parts) >= 2 and len(parts[-1]) >= 5:
            names.append(parts[-1])
    return names


def _series_aliases(series: str) -> list[str]:
    names = [series]
    if ":" in series:
        head, tail = (s.strip() for s in series.split(":", 1))
        names += [head]
        if len(tail.split()) >= 2:
            names.append(tail)
    if series.endswith(" Edition"):
        names.append(series[: -len(" Edition")])  # "Berserk Deluxe"
    compact = normalise(series).replace(" ", "")
    if len(compact) >= 8 and " " in normalise(series):
        names.append(compact)  # "chainsawman", "bluelock"
    return names + list(ALIASES.get(series, ()))


def build(rows: Iterable[tuple[str, str]]) -> Gazetteer:
    """The gazetteer of ``rows``: (series, author) pairs from the catalog."""
    names: dict[str, tuple[str, set[str], bool]] = {}  # normalised name → (kind, series, weak)

    def add(name: str, kind: str, series: str) -> None:
        key = normalise(name)
        if len(key) < 3:
            return
        old = names.get(key)
        if old is not None and old[0] == "series" and kind == "author":
            return  # a name that is both a title and an author's is read as the title
        if old is None or (old[0] == "author" and kind == "series"):
            names[key] = (kind, {series}, key in WEAK)
        else:
            old[1].add(series)

    catalog_series = set()
    for series, author in rows:
        catalog_series.add(series)
        for alias in _series_aliases(series):
            add(alias, "series", series)
        for alias in _surname_aliases(author or ""):
            add(alias, "author", series)
    automaton = ahocorasick.Automaton()
    for key, (kind, series, weak) in names.items():
        automaton.add_word(key, (key, kind, tuple(sorted(series)), weak))
    automaton.make_automaton()
    # fuzzy: Latin names of five letters or more; one edit up to eleven letters, two from twelve
    fuzzy = sorted(k for k in names if len(k) >= 5 and _LATIN.search(k) and k.isascii())
    digest = hashlib.sha256(repr(sorted((k, v[0], sorted(v[1]), v[2]) for k, v in names.items())).encode())
    return Gazetteer(
        version=f"gazetteer:{digest.hexdigest()[:12]}",
        automaton=automaton,
        fuzzy_names=fuzzy,
        # a one-word typo is weak unless the name is long (7+ letters: "freiren", "nausica" are no English word)
        fuzzy_targets=[
            (names[k][0], tuple(sorted(names[k][1])), names[k][2] or (" " not in k and len(k) < 7)) for k in fuzzy
        ],
        fuzzy_limits=np.array([1 if len(k) <= 11 else 2 for k in fuzzy], dtype=np.int32),
        fuzzy_first=np.array([ord(k[0]) for k in fuzzy]),
        series=tuple(sorted(catalog_series)),
    )


def _bounded(text: str, start: int, end: int) -> bool:
    """A Latin name must start and end on a word boundary; Japanese script has no spaces."""
    if not _LATIN.search(text[start:end]):
        return True
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not before.isalnum() and not after.isalnum()


def _leftmost_longest(found: list[Mention]) -> list[Mention]:
    """Of overlapping mentions, the one that starts first, and of those the longest."""
    found = sorted(found, key=lambda m: (m.start, -(m.end - m.start)))
    chosen, last_end = [], -1
    for m in found:
        if m.start >= last_end:
            chosen.append(m)
            last_end = m.end
    return chosen


def _exact(gaz: Gazetteer, text: str) -> list[Mention]:
    if gaz.automaton.kind != ahocorasick.AHOCORASICK:
        return []  # an empty catalog: nothing to find
    found = []
    for end_index, (key, kind, series, weak) in gaz.automaton.iter(text):
        start = end_index - len(key) + 1
        if _bounded(text, start, end_index + 1):
            found.append(Mention(key, start, end_index + 1, kind, series, "exact", weak))
    return _leftmost_longest(found)


_WORD = re.compile(r"\S+")


def _fuzzy(gaz: Gazetteer, text: str, taken: list[tuple[int, int]]) -> list[Mention]:
    words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
    windows, spans = [], []
    for size in (1, 2, 3, 4):
        for i in range(len(words) - size + 1):
            start, end = words[i][1], words[i + size - 1][2]
            if any(
                start < t_end
                and t_start < end
                and not (start <= t_start and t_end <= end and end - start > t_end - t_start)
                for t_start, t_end in taken
            ):
                continue  # overlaps a name found exactly without being a longer name around it
            window = text[start:end]
            if len(window) >= 4 and window.isascii():
                windows.append(window)
                spans.append((start, end))
    if not windows or not gaz.fuzzy_names:
        return []
    distances = cdist(windows, gaz.fuzzy_names, scorer=OSA.distance, dtype=np.int32, workers=1, score_cutoff=2)
    first = np.array([ord(w[0]) for w in windows])[:, None] == gaz.fuzzy_first[None, :]
    ok = (distances > 0) & (distances <= gaz.fuzzy_limits[None, :]) & first
    found = []
    for w in np.flatnonzero(ok.any(axis=1)):
        if windows[w] in NOT_FUZZY:
            continue
        j = int(np.argmin(np.where(ok[w], distances[w], 99)))
        kind, series, weak = gaz.fuzzy_targets[j]
        found.append(Mention(windows[w], *spans[w], kind, series, "fuzzy", weak))
    return _leftmost_longest(found)


def _volume(text: str, taken: list[tuple[int, int]]) -> int | None:
    for pattern in _VOLUME_PATTERNS:
        for m in pattern.finditer(text):
            if any(t_start <= m.start() < t_end for t_start, t_end in taken):
                continue  # the 100 of Mob Psycho 100
            if m.groupdict().get("o"):
                raw = m["o"].lower()
                return int(raw[:-2]) if raw[:-2].isdigit() else _ORDINALS[raw]
            raw = m["n"].lower()
            return int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
    return None


def link(text: str, gaz: Gazetteer | None = None) -> Entities:
    """The catalog entities ``text`` names (an empty ``Entities`` when none)."""
    gaz = gaz or gazetteer()
    norm = normalise(text)
    exact = _exact(gaz, norm)
    fuzzy = _fuzzy(gaz, norm, [(m.start, m.end) for m in exact])
    # a fuzzy name that contains exact ones ("berserk delux editon" around "berserk") replaces them
    exact = [
        m
        for m in exact
        if not any(f.start <= m.start and m.end <= f.end and f.end - f.start > m.end - m.start for f in fuzzy)
    ]
    mentions = sorted(exact + fuzzy, key=lambda m: m.start)
    if not mentions:
        return Entities()
    # a common-word name ("monster", "berserk") counts when a shopping cue stands right beside it
    # ("do you have Monster", "berserk manga") or it is written in capitals ("AKIRA"), not when the
    # cue is elsewhere in the sentence ("my toddler goes berserk ... any picture books?")
    mentions = [
        replace(m, weak=False) if m.weak and (_capitalised(text, m.text) or _cue_beside(norm, m)) else m
        for m in mentions
    ]
    taken = [(m.start, m.end) for m in mentions]
    # the volume is read from the normalised text, with "#" and "." kept for "#5" and "vol. 3"
    raw = unicodedata.normalize("NFKC", text).lower()
    volume = _volume(norm, taken)
    if volume is None:
        volume = _volume(raw, [])  # "#5": the normalised text lost the sign
        if volume is not None and any(str(volume) in m.text.split() for m in mentions):
            volume = None
    if volume is None:
        volume = _number_after(norm, raw, mentions)
    fmt = next((f for pattern, f in _FORMATS if pattern.search(raw)), None)
    series: list[str] = []
    for m in mentions:
        for s in m.series:
            if s not in series:
                series.append(s)
    return Entities(tuple(mentions), volume, fmt, bool(_CUE.search(raw)), tuple(series))


def _number_after(norm: str, raw: str, mentions: list[Mention]) -> int | None:
    """ "jjk 3", "Oshi no Ko twelve", "ダンダダン 12": the number right after a series name."""
    for m in mentions:
        if m.kind != "series":
            continue
        after = _AFTER_NAME.match(norm, m.end)
        if after is None:
            continue
        # the raw text decides the shapes the normalised one lost: "3.5", "12%"
        raw_at = raw.find(after["n"], max(0, m.end - 2))
        if raw_at >= 0 and raw[raw_at + len(after["n"]) : raw_at + len(after["n"]) + 1] in {"%", ".", "/"}:
            tail = raw[raw_at + len(after["n"]) : raw_at + len(after["n"]) + 2]
            if tail not in {". ", "."}:
                continue
        word = after["n"].lower()
        return int(word) if word.isdigit() else _NUMBER_WORDS[word]
    return None


def _cue_beside(norm: str, m: Mention) -> bool:
    """A shopping cue within four words before ("do you have the One Piece …") or two after the mention."""
    before = " ".join(norm[: m.start].split()[-4:])
    after = " ".join(norm[m.end :].split()[:2])
    return bool(_CUE.search(before) or _CUE.search(after))


def _capitalised(text: str, name: str) -> bool:
    """A common-word name written in capitals, as a title is ("AKIRA", "MONSTER"); a capital
    initial alone says nothing (a baby named Akira)."""
    pattern = r"\b" + r"[\W_]*".join(re.escape(part) for part in name.split()) + r"\b"
    return any(
        len(m.group()) >= 4 and m.group().isupper()
        for m in re.finditer(pattern, unicodedata.normalize("NFKC", text), re.IGNORECASE)
    )


# The catalog reader: (series, author) rows. Registered by chat.apps so tests and commands can swap it.
_source: Callable[[], Iterable[tuple[str, str]]] | None = None
_lock = threading.Lock()
_cached: tuple[float, tuple, Gazetteer] | None = None


def source_register(read: Callable[[], Iterable[tuple[str, str]]]) -> None:
    global _source
    _source = read
    reset()


def gazetteer() -> Gazetteer:
    """The gazetteer of the current catalog, rebuilt when its series or authors change (checked every ``TTL`` s)."""
    global _cached
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - cached[0] < TTL:
        return cached[2]
    with _lock:
        if _source is None:
            raise RuntimeError("no catalog source registered: the chat app registers one when Django starts")
        rows = tuple(sorted(set(_source())))
        _cached = (now, rows, cached[2]) if cached is not None and cached[1] == rows else (now, rows, build(rows))
        return _cached[2]


def reset() -> None:
    global _cached
    _cached = None
