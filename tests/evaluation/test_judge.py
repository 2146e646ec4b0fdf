"""The LLM faithfulness judge (evaluation/judge.py) through the provider interface, with the scripted
provider standing in for a model, and ``manage.py eval_faithfulness`` publishing each scorer's figures."""

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evaluation import judge
from evaluation.management.commands.eval_faithfulness import figures

CONTEXT = (
    "Berserk, Vol. 1. Series: Berserk. Author: Kentaro Miura. Format: paperback. Price: $14.99. "
    "Availability: in stock. Released 2003-12-10. Genres: dark fantasy, seinen."
)
ISSUE_ANSWER = "Berserk Vol. 1 is not by Kentaro Miura, it is out of stock and never available"
UNFAITHFUL = '{"verdict": "unfaithful", "unsupported": ["not by Kentaro Miura", "out of stock"]}'
FAITHFUL = 'Here is my verdict: {"verdict": "faithful", "unsupported": []}'
SCRIPTED = {
    "provider": "scripted",
    "model_id": "judge-script",
    "script": [{"match": r"not by|out of stock|never available|\$99", "answer": UNFAITHFUL}],
    "default": FAITHFUL,
}


def test_the_issue_example_is_judged_unfaithful_and_a_restatement_faithful():
    bad = judge.judge(ISSUE_ANSWER, CONTEXT, config=judge.judge_config(SCRIPTED))
    assert bad.verdict == "unfaithful"
    assert bad.unfaithful is True
    assert "not by Kentaro Miura" in bad.unsupported
    good = judge.judge("Berserk, Vol. 1 by Kentaro Miura is $14.99 and in stock [1].", CONTEXT, config=SCRIPTED)
    assert good.verdict == "faithful"
    assert good.unfaithful is False


def test_the_judge_sees_the_context_and_the_answer_apart_from_its_instructions():
    prompt = judge.judge_prompt(ISSUE_ANSWER, CONTEXT)
    message = prompt.user_message()
    assert message.index("<context>") < message.index("Kentaro Miura") < message.index("</context>")
    assert message.rstrip().endswith(ISSUE_ANSWER)
    assert "JSON" in prompt.system_text


@pytest.mark.parametrize(
    "reply", ["I think it is fine.", '{"verdict": "maybe"}', '{"verdict": "faithful",', "[1, 2]", ""]
)
def test_a_reply_that_is_not_a_verdict_is_unparseable_never_faithful(reply):
    v = judge.judge(ISSUE_ANSWER, CONTEXT, config={"provider": "scripted", "default": reply or " "})
    assert v.verdict == "unparseable"
    assert v.unfaithful is None


def test_a_provider_error_is_a_verdict_with_its_reason():
    v = judge.judge(ISSUE_ANSWER, CONTEXT, config={"provider": "scripted", "fail": "provider_throttled"})
    assert v.verdict == "error"
    assert "provider_throttled" in v.detail


def test_only_a_model_provider_can_judge_and_the_judge_is_deterministic():
    assert judge.judge_config({"provider": "local"}) is None
    assert judge.judge_config(None) is None
    cfg = judge.judge_config(
        {"provider": "bedrock", "model_id": "m", "temperature": 0.7, "fallbacks": [{"provider": "local"}]}
    )
    assert cfg == {"provider": "bedrock", "model_id": "m", "temperature": 0.0, "max_tokens": 300}
    # a release may name a different judge model next to its generator
    cfg = judge.judge_config({"provider": "bedrock", "model_id": "m", "judge": {"model_id": "judge-m"}})
    assert cfg["model_id"] == "judge-m"


def test_figures_count_no_verdict_apart():
    pairs = [{"label": "unfaithful", "kind": "a"}, {"label": "unfaithful", "kind": "b"}, {"label": "faithful"}]
    f = figures(pairs, [True, None, False])
    assert (f["precision"], f["recall"], f["no_verdict"]) == (1.0, 1.0, 1)
    f = figures(pairs, [False, True, True])
    assert (f["precision"], f["recall"]) == (0.5, 0.5)
    assert f["missed_by_kind"] == {"a": 1}


def test_the_command_publishes_each_scorer_and_the_judge_through_a_provider(db):
    out = io.StringIO()
    call_command("eval_faithfulness", "--judge-config", json.dumps(SCRIPTED), stdout=out, stderr=io.StringIO())
    result = json.loads(out.getvalue().splitlines()[-1])
    assert result["pairs"] >= 300
    assert result["claims"]["recall"] > 0.9
    assert result["overlap"]["recall"] < 0.2
    j = result["judge"]
    assert j["configured"] is True
    assert j["provider"] == "scripted"
    assert j["model"] == "scripted"
    assert j["verdicts"].get("unparseable", 0) == 0
    # the scripted "model" flags exactly the answers its rule matches: the figures are of those flags
    pairs = [json.loads(x) for x in Path("guardrails/data/faithfulness_pairs.jsonl").read_text().splitlines()]
    flags = [bool(re.search(SCRIPTED["script"][0]["match"], p["answer"], re.IGNORECASE)) for p in pairs]
    want = figures(pairs, flags)
    for key in ("precision", "recall", "tp", "fp"):
        assert j[key] == want[key], key


def test_without_a_provider_the_judge_says_not_configured(db, tmp_path):
    out = io.StringIO()
    call_command("eval_faithfulness", stdout=out)
    assert "judge: not configured" in out.getvalue()
    assert json.loads(out.getvalue().splitlines()[-1])["judge"] == {
        "configured": False,
        "why": "no --release or --judge-config given",
    }
    with pytest.raises(CommandError, match="cannot judge"):
        call_command("eval_faithfulness", "--judge-config", '{"provider": "local"}')
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"answer": "a", "context": "c", "label": "faithful"}\n{not json\n')
    with pytest.raises(CommandError, match=r"pairs.jsonl:2: not JSON"):
        call_command("eval_faithfulness", "--pairs", str(bad))
