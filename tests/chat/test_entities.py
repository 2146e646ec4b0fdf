"""Catalog entity linking (issue 19 item 1): the gazetteer finds series, authors, volumes and editions
in shopper messages, lifts out-of-scope and chitchat reads of them to product questions, never a
return or an escalation, and retrieval puts the named volume first."""

import json
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from chat import entities
from chat.models import Span
from chat.turn import SessionState, classify_turn, run_turn

DATA = Path(__file__).parent / "data"


def catalog_gazetteer():
    rows = {(p["series"], p["author"]) for p in json.loads((settings.DATA_DIR / "catalog.json").read_text())}
    return entities.build(rows)


def phrasings(name):
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            series, volume, kind, text = line.split("\t")
            yield series, int(volume) if volume else None, kind, text


def family(series: str) -> set[str]:
    # the box set "Demon Slayer" and the numbered "Demon Slayer: Kimetsu no Yaiba" are one title to a shopper
    return {"Demon Slayer", "Demon Slayer: Kimetsu no Yaiba"} if series.startswith("Demon Slayer") else {series}


def existing_volumes() -> dict[str, set[int]]:
    volumes: dict[str, set[int]] = {}
    for p in json.loads((settings.DATA_DIR / "catalog.json").read_text()):
        volumes.setdefault(p["series"], set()).add(p["volume"])
    return volumes


def misses(name):
    """The phrasings the linker gets wrong: not linked strongly to their series, or the wrong volume.
    A set may leave the volume blank when the asked-for number is not in the catalog (Chainsaw Man
    19): then reading that number is right too, since no product has it."""
    gaz, volumes = catalog_gazetteer(), existing_volumes()
    wrong = []
    for series, volume, kind, text in phrasings(name):
        linked = entities.link(text, gaz)
        if series == "NONE":  # a look-alike word ("a monster truck"): no strong link
            if linked.strong:
                wrong.append((kind, text, linked.series, linked.volume, linked.strong))
            continue
        absent = volume is None and linked.volume is not None and linked.volume not in volumes.get(series, set())
        if not (linked.strong and family(series) & set(linked.series) and (linked.volume == volume or absent)):
            wrong.append((kind, text, linked.series, linked.volume, linked.strong))
    return wrong


def test_every_hand_written_phrasing_of_every_series_links_to_it_with_its_volume():
    rows = list(phrasings("entity_phrasings.tsv"))
    catalog_series = {p["series"] for p in json.loads((settings.DATA_DIR / "catalog.json").read_text())}
    # five or more phrasings for every series a shopper can name (the box set "Demon Slayer" goes with its series)
    per_series = {s: sum(r[0] == s for r in rows) for s in catalog_series - {"Demon Slayer"}}
    assert min(per_series.values()) >= 5, per_series
    assert misses("entity_phrasings.tsv") == []


def test_a_second_set_written_without_the_gazetteer_links_to_its_series():
    # written by a helper that never saw the linker; its first read (79.0%) found the bare "jjk 3"
    # volume, typos around an exact short name and capitalised common-word titles, so it is a
    # development set now: the reported figure is entity_test.tsv's
    path = DATA / "entity_heldout.tsv"
    rows = list(phrasings(path.name))
    wrong = misses(path.name)
    assert len(rows) >= 150
    assert len(wrong) / len(rows) <= 0.05, wrong


def test_a_third_set_with_look_alike_words_links_its_series_and_not_the_look_alikes():
    # read once before the last changes (91.2%: 94.3% of 141 named, 80.0% of 40 look-alikes kept
    # unlinked); the local-cue rule for common-word names came from it, so it is a development set too
    rows = list(phrasings("entity_test.tsv"))
    wrong = misses("entity_test.tsv")
    assert sum(r[0] == "NONE" for r in rows) >= 40
    assert len(wrong) / len(rows) <= 0.05, wrong


@pytest.mark.parametrize(
    ("text", "volume"),
    [
        ("the first volume of Frieren", 1),
        ("naruto vol one", 1),
        ("naruto #12", 12),
        ("ワンピース 1巻", 1),
        ("ワンピース第3巻", 3),
        ("one piece volume twenty", 20),
        ("the 3rd berserk book", 3),
        ("mob psycho 100", None),  # the 100 is the title's
        ("mob psycho 100 vol 2", 2),
        ("is tokyo ghoul too gory for a 12 year old", None),
    ],
)
def test_volumes_are_read_in_the_ways_shoppers_write_them(text, volume):
    assert entities.link(text, catalog_gazetteer()).volume == volume


@pytest.mark.parametrize(
    "text",
    [
        "write me a haiku about autumn",
        "what's a good one piece swimsuit for the beach",
        "how do I beat the final monster in elden ring",
        "I'm going to go berserk",
        "what is the capital of France",
        "hello there",
    ],
)
def test_ordinary_words_that_look_like_titles_do_not_make_a_strong_link(text):
    assert not entities.link(text, catalog_gazetteer()).strong


def test_no_out_of_scope_training_utterance_makes_a_strong_link():
    gaz = catalog_gazetteer()
    rows = [json.loads(line) for line in (settings.DATA_DIR / "intents.jsonl").read_text().splitlines() if line]
    linked = [r["text"] for r in rows if r["intent"] == "out_of_scope" and entities.link(r["text"], gaz).strong]
    assert linked == []


def test_longest_name_wins_and_authors_link_their_series():
    gaz = catalog_gazetteer()
    assert entities.link("books by akira toriyama", gaz).series == ("Dragon Ball",)  # the author, not Akira
    assert entities.link("berserk deluxe edition vol 2", gaz).series == ("Berserk Deluxe Edition",)
    assert entities.link("anything by aka akasaka", gaz).series == ("Kaguya-sama: Love Is War", "Oshi no Ko")
    deluxe = entities.link("is the berserk deluxe hardcover in stock", gaz)
    assert deluxe.format == "deluxe"


def test_a_broken_catalog_source_is_a_clear_error_and_an_empty_catalog_links_nothing():
    entities.source_register(lambda: [])
    try:
        assert entities.link("do you have naruto").mentions == ()
    finally:
        from chat.models import Product

        entities.source_register(lambda: Product.objects.values_list("series", "author").distinct())


@pytest.mark.django_db
def test_the_intent_is_lifted_from_chitchat_but_never_from_a_return_or_an_escalation(serving):
    state = SessionState(uuid.uuid4(), None, 10_000)
    turn = classify_turn(state, "I'd like to order a return for this damaged volume of Chainsaw Man")
    assert turn.intent == "return_request"
    turn = classify_turn(state, "I want to talk to a human about my One Piece order")
    assert turn.intent == "escalation"
    turn = classify_turn(state, "who is the best character in Chainsaw Man")
    assert turn.intent == "product_question"
    intent_span = next(s for s in turn.spans if s["name"] == "intent")
    assert intent_span["outputs"]["model_intent"] in {"chitchat", "out_of_scope"}
    assert intent_span["outputs"]["rule"] == "catalog_entity"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("tell me about Chainsaw Man volume 1", "Chainsaw Man, Vol. 1"),
        ("chainsaw man vol. 4 price", "Chainsaw Man, Vol. 4"),
        ("the third berserk volume", "Berserk, Vol. 3"),
        ("berserk deluxe edition volume 2 please", "Berserk Deluxe Edition, Vol. 2"),
        ("do u sell one piece", "One Piece"),
        ("csm manga", "Chainsaw Man"),
        ("do you ship chainsaw man to canada", ""),  # a FAQ: the shipping page, and the series has a seat
    ],
)
def test_a_named_series_is_cited_and_a_named_volume_first(serving, settings, text, first):
    settings.CHAT_TRACE_WRITES_INLINE = True
    result = run_turn(SessionState(uuid.uuid4(), None, 10_000), text, record=True)
    titles = [c["title"] for c in result.payload["citations"]]
    assert titles, result.turn.intent
    assert titles[0].startswith(first), (result.turn.intent, titles)
    assert any(t.startswith(("Chainsaw Man", "Berserk", "One Piece")) for t in titles)
    assert result.turn.intent not in {"out_of_scope", "chitchat"}
    span = Span.objects.get(trace_id=result.payload["trace_id"], name="entities")
    assert span.outputs["strong"]
    assert span.outputs["series"]
    assert span.component_version.startswith("gazetteer:")


def test_the_frozen_set_read_once_for_the_report_stays_where_it_was_measured():
    # entity_frozen.tsv was written after the linker was frozen, by a writer who saw neither it nor
    # the other sets; its first read: 88.6% of 175 right at the linker (whole turns: 96.3% cite the
    # series, Vol. N first 97.3% of 74, 2 of 40 look-alikes linked). This only guards against a slide.
    rows = list(phrasings("entity_frozen.tsv"))
    wrong = misses("entity_frozen.tsv")
    assert len(rows) >= 165
    assert len(wrong) / len(rows) <= 0.12, wrong
    assert sum(kind == "negative" for kind, *_ in wrong) <= 2


def test_the_phrasing_sets_share_no_message_with_each_other_or_the_intent_training_data():
    sets = ["entity_phrasings.tsv", "entity_heldout.tsv", "entity_test.tsv", "entity_frozen.tsv"]
    texts = {name: {r[3].lower().strip() for r in phrasings(name)} for name in sets}
    training = {
        json.loads(line)["text"].lower().strip()
        for line in (settings.DATA_DIR / "intents.jsonl").read_text().splitlines()
        if line.strip()
    }
    assert not texts["entity_frozen.tsv"] & (
        texts["entity_phrasings.tsv"] | texts["entity_heldout.tsv"] | texts["entity_test.tsv"]
    )
    assert not set().union(*texts.values()) & training
