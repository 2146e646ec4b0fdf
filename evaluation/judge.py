"""An LLM judge of faithfulness through the release's provider interface (issue 18 item 5).

The claim-level scorer (``guardrails.claims``) checks the claim types a shop answer carries with
rules; it guards production. This judge asks a model instead, the way LLM-as-a-judge faithfulness
metrics do (RAGAS faithfulness, Langfuse's and MLflow's "faithfulness" judges: decompose the answer
into claims, and ask whether the context supports each). It goes through the same streaming
provider interface as the chat turn (``chat.generation.stream_answer``: Bedrock Converse, an
OpenAI-compatible endpoint, or the scripted provider in tests), so it runs wherever the release's
generator runs. The local responder cannot judge: with it no judge is configured and callers
report "not configured" rather than a number.

The reply must be one JSON object: ``{"verdict": "faithful" | "unfaithful", "unsupported": [claims]}``.
Anything else is an ``unparseable`` verdict (counted apart, never as faithful).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from chat.generation import GenerationError, Prompt, Usage, stream_answer

JUDGE_PROVIDERS = ("bedrock", "openai_compatible", "scripted")
SYSTEM = (
    "You check whether an answer is faithful to the context it was written from. Split the answer into its "
    "claims (every price, volume, count, date, author, availability and every denial). A claim is supported only "
    "when the context states it; a claim the context contradicts, or does not state, is unsupported. Reply with "
    'one JSON object and nothing else: {"verdict": "faithful" or "unfaithful", "unsupported": [the unsupported '
    "claims, quoted]}. The verdict is unfaithful when any claim is unsupported."
)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass
class Verdict:
    verdict: str  # faithful | unfaithful | unparseable | error
    unsupported: list[str] = field(default_factory=list)
    reply: str = ""
    model: str = ""
    detail: str = ""

    @property
    def unfaithful(self) -> bool | None:
        """True or False from a parsed reply; None when the judge gave no usable verdict."""
        return {"faithful": False, "unfaithful": True}.get(self.verdict)


def judge_config(generator_config: dict | None) -> dict | None:
    """The judge's provider config from a release's generator config, or None when it cannot judge
    (the local responder). Deterministic: temperature 0, a short reply."""
    cfg = dict(generator_config or {})
    if cfg.get("provider", "local") not in JUDGE_PROVIDERS:
        return None
    cfg.pop("fallbacks", None)
    return {**cfg, **cfg.pop("judge", {}), "temperature": 0.0, "max_tokens": 300}


def judge_prompt(answer: str, context: str) -> Prompt:
    return Prompt(
        system=SYSTEM,
        context=[{"title": "Context", "text": context}],
        history=[],
        user=f"Answer to check:\n{answer}",
        intent="faithfulness_judge",
        version="judge",
    )


def parse(reply: str) -> tuple[str, list[str]]:
    match = _OBJECT.search(reply)
    if not match:
        return "unparseable", []
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return "unparseable", []
    verdict = str(data.get("verdict", "")).strip().lower() if isinstance(data, dict) else ""
    if verdict not in ("faithful", "unfaithful"):
        return "unparseable", []
    unsupported = data.get("unsupported") or []
    return verdict, [str(c) for c in unsupported] if isinstance(unsupported, list) else [str(unsupported)]


def judge(answer: str, context: str, *, config: dict) -> Verdict:
    """One verdict. A provider error is a verdict of kind ``error`` with the reason, not an exception:
    an evaluation over hundreds of pairs reports how many the judge could not answer."""
    pieces, model = [], config.get("model_id", config.get("provider", ""))
    try:
        for item in stream_answer(judge_prompt(answer, context), [], config=config):
            if isinstance(item, Usage):
                model = item.model_id or model
            else:
                pieces.append(item)
    except GenerationError as exc:
        return Verdict("error", model=model, detail=f"{exc.code}: {exc.detail}")
    reply = "".join(pieces)
    verdict, unsupported = parse(reply)
    return Verdict(verdict, unsupported, reply=reply[:2000], model=model)
