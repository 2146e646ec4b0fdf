"""Toxicity by a model (issue 19 item 5): alt-profanity-check's calibrated SVM with the manga
vocabulary masked; the fast path computes what scikit-learn computes; manga titles never trip it."""

import json

import pytest
from django.conf import settings

from guardrails import catalog, toxicity
from guardrails.checks import post_checks, pre_checks
from guardrails.policy import DEFAULT_POLICY, default_policy, validate_policy

DATA = settings.BASE_DIR / "guardrails" / "data"


@pytest.fixture
def catalog_titles():
    rows = json.loads((settings.DATA_DIR / "catalog.json").read_text())
    catalog.source_register(lambda: [(p["asin"], p["title"], p["price"], None) for p in rows])
    yield sorted({p["series"] for p in rows})
    catalog.source_register(lambda: [])
    catalog.reset()


def dev_texts():
    return [json.loads(line)["text"] for line in (DATA / "toxicity_dev.jsonl").read_text().splitlines() if line]


def test_the_matrix_path_gives_scikit_learns_probabilities():
    texts = dev_texts()
    fast = toxicity.probabilities(texts)
    exact = toxicity.probabilities(texts, exact=True)
    assert max(abs(a - b) for a, b in zip(fast, exact, strict=True)) < 1e-9
    assert max(fast) > 0.99  # not a constant: the dev set's abuse scores near 1
    assert min(fast) < 0.05


def test_abuse_is_blocked_and_civil_messages_pass():
    policy = default_policy()
    for text in ("you are a fucking idiot", "this bot is sh*t", "y0u st00pid b1tch", "kill yourself"):
        pre = pre_checks(text, policy)
        assert pre.blocked is not None, text
        assert pre.blocked.check == "input_toxicity"
    for text in ("this manga is damn good", "my order is late and I'm annoyed, can you check it", "hello"):
        assert pre_checks(text, policy).blocked is None, text


def test_the_decision_records_the_model_and_its_score():
    decision = next(
        d for d in pre_checks("you worthless moron", default_policy()).decisions if d.check == "input_toxicity"
    )
    assert decision.verdict == "block"
    assert decision.detail["model"] == "alt-profanity-check"
    assert decision.score >= decision.detail["threshold"]


def test_manga_vocabulary_never_trips_it(catalog_titles):
    policy = default_policy()
    threshold = policy.check("input_toxicity")["threshold"]
    allow = toxicity.allow_list(policy.config)
    names = catalog_titles + DEFAULT_POLICY["toxicity_allow"] + ["Hell's Paradise", "Demon Slayer"]
    shapes = ("{}", "I love {}", "how many people die in {}?", "{} vol 3 price", "is {} too violent for a teen?")
    texts = [shape.format(name) for name in names for shape in shapes]
    scores = toxicity.probabilities(texts, allow)
    tripped = [(t, round(s, 2)) for t, s in zip(texts, scores, strict=True) if s >= threshold]
    assert tripped == []
    # and the same sentences without the masking would trip it: the allow-list is what holds
    unmasked = toxicity.probabilities(["how many people die in Hell's Paradise?", "Kill la Kill"])
    assert max(unmasked) >= 0.5


def test_a_bot_answer_full_of_titles_passes_the_output_check(catalog_titles):
    answer = "Chainsaw Man, Vol. 1 is $11.99 [1]. Denji hunts devils with a chainsaw; Hell's Paradise is as gory."
    post = post_checks(answer, hits=[], question="something gory", policy=default_policy())
    assert next(d for d in post.decisions if d.check == "output_toxicity").verdict == "pass"


def test_a_toxicity_threshold_outside_zero_to_one_is_refused():
    config = json.loads(json.dumps(DEFAULT_POLICY))
    config["checks"]["input_toxicity"]["threshold"] = 1.5
    assert any("input_toxicity.threshold" in p for p in validate_policy(config))


def test_the_held_out_set_is_written_apart_from_the_dev_templates():
    dev = {t.lower() for t in dev_texts()}
    test = [json.loads(line) for line in (DATA / "toxicity_test.jsonl").read_text().splitlines() if line]
    assert len(test) >= 300
    assert not [r["text"] for r in test if r["text"].lower() in dev]
