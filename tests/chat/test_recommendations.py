"""Recommendations: "something similar to X" recommends other series of X's genres, and a list of
recommendations names each series once."""

import uuid

from chat.retrieval import named_for_contrast, series_of
from chat.turn import SessionState, run_turn


def test_what_a_request_names_for_contrast_and_a_titles_series():
    assert named_for_contrast("Something similar to Attack on Titan") == ("attack on titan",)
    assert named_for_contrast("any manga like One Piece but darker?") == ("one piece",)
    assert named_for_contrast("recommend a dark fantasy manga") == ()
    assert series_of("Attack on Titan, Vol. 3") == "attack on titan"
    assert series_of("Berserk Deluxe Edition, Vol. 2") == "berserk"


def test_similar_to_a_series_recommends_other_series_once_each(serving):
    result = run_turn(SessionState(uuid.uuid4(), None, 10_000), "something similar to Chainsaw Man", record=False)
    assert result.turn.intent == "recommendation"
    titles = [c["title"] for c in result.payload["citations"]]
    assert titles, result.answer
    assert not [t for t in titles if t.lower().startswith("chainsaw man")]
    assert len({series_of(t) for t in titles}) == len(titles)  # one volume per series
