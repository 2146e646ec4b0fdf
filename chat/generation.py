"""Generation providers behind one interface, chosen by the release's generator component.

- ``local``: the local grounded responder, the embedded default. **Not an LLM**: it composes the
  answer from the retrieved catalog, FAQ and policy text with the intent's template.
- ``bedrock``: Amazon Bedrock through boto3 ``converse_stream`` (tested with botocore's Stubber).
- ``openai_compatible``: any OpenAI-compatible ``/v1/chat/completions`` streaming endpoint
  (vLLM, Ollama, llama.cpp server), read as server-sent events with httpx.

Each provider yields text chunks and finally one ``Usage``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from chat.retrieval import Hit
from mangaconsole.lib.secret_refs import SecretError, secret_resolve

STRICT_SUFFIX = (
    "STRICT MODE: your previous answer stated facts the context does not support. Use only sentences you can "
    "support word for word from the context; quote prices exactly as the catalog gives them; mention no ASIN, "
    "link or store that is not in the context; if unsure, say you don't know."
)
_CONTEXT_TAG = re.compile(r"</?\s*context\s*>", re.IGNORECASE)
FALLBACK_NO_CONTEXT = (
    "I'm sorry, I don't know that one: I couldn't find it in our catalog, FAQ or policies, and I'd rather not guess. "
    "You can rephrase, or ask to talk to a person."
)


@dataclass
class Prompt:
    system: str
    context: list[dict]
    history: list[dict]
    user: str
    intent: str
    version: str = "builtin"
    strict: bool = False  # a regeneration after a failed faithfulness/price/ASIN check (US-7.3)
    few_shot: list[dict] = field(default_factory=list)  # the intent template's examples
    order_refs: list[str] = field(default_factory=list)  # order numbers the shopper gave, masked ("112-…-4567")
    # The intent's context-assembly template (prompts_app.bundle), or None for the plain layout.
    render_user: Callable[..., str] | None = None

    @property
    def system_text(self) -> str:
        return f"{self.system} {STRICT_SUFFIX}" if self.strict else self.system

    def user_message(self) -> str:
        """The user turn as the intent template assembles it, retrieved text kept apart from
        instructions (S12): retrieved text cannot close or open the context block it sits in."""
        blocks = [
            {
                "n": i + 1,
                "title": _CONTEXT_TAG.sub("", c["title"]),
                "text": _CONTEXT_TAG.sub("", c["text"]),
                "source": c.get("source", ""),
                "key": c.get("key", ""),
            }
            for i, c in enumerate(self.context)
        ]
        if self.render_user is not None:
            return self.render_user(question=self.user, context=blocks, history=self.history)
        context = "\n\n".join(f"[{b['n']}] {b['title']}\n{b['text']}" for b in blocks)
        return self.user if not context else f"<context>\n{context}\n</context>\n\nQuestion: {self.user}"

    def messages(self) -> list[dict]:
        """Few-shot examples, then the history, then the assembled user turn."""
        shots = [
            m
            for ex in self.few_shot
            for m in ({"role": "user", "content": ex["user"]}, {"role": "assistant", "content": ex["assistant"]})
        ]
        return [*shots, *self.history, {"role": "user", "content": self.user_message()}]


@dataclass
class Usage:
    input_tokens: int
    output_tokens: int
    stop_reason: str
    model_id: str
    extra: dict = field(default_factory=dict)


class GenerationError(Exception):
    """The provider failed; ``code`` goes to the client's error frame."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


def count_tokens(text: str) -> int:
    """A provider-neutral estimate (about four characters a token) for budgets and local pricing."""
    return max(1, (len(text) + 3) // 4) if text else 0


def tokenise_for_stream(text: str) -> list[str]:
    """Token-sized pieces: each word with the white space that follows it."""
    return re.findall(r"\S+\s*|\s+", text)


# ---------------------------------------------------------------------------------------- local
_PRICE = re.compile(r"Price: (\$\d+\.\d{2}(?: \(on sale, list price \$\d+\.\d{2}\))?)")
_AVAIL = re.compile(r"Availability: ([^.]+(?:\.\d+)?[^.]*)\.")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")


def _catalog_line(i: int, hit: Hit) -> str:
    price = _PRICE.search(hit.text)
    avail = _AVAIL.search(hit.text)
    facts = ", ".join(x for x in (price.group(1) if price else "", avail.group(1) if avail else "") if x)
    return f"• {hit.title}: {facts} [{i}]" if facts else f"• {hit.title} [{i}]"


_ASKS_TIME = re.compile(r"\b(window|how long|how many days|deadline|when|time|days?|late)\b", re.IGNORECASE)
_DURATION = re.compile(r"\b\d+\s*(?:to \d+\s*)?(?:business\s+)?(?:days?|hours?|weeks?)\b", re.IGNORECASE)


def _best_sentences(question: str, hit: Hit, n: int = 3) -> str:
    """The ``n`` sentences of ``hit`` that share most words with the question, in document order;
    a question about time ("return window", "how long") favours sentences that state a duration."""
    words = set(_WORD.findall(question.lower()))
    asks_time = bool(_ASKS_TIME.search(question))
    sentences = [s.strip() for s in _SENTENCE.split(hit.text) if len(s.strip()) > 20]

    def score(sentence: str) -> float:
        overlap = len(words & set(_WORD.findall(sentence.lower())))
        return overlap + (3 if asks_time and _DURATION.search(sentence) else 0)

    ranked = sorted(sentences, key=score, reverse=True)
    chosen = [s for s in sentences if s in ranked[:n]]  # keep the document's order
    return " ".join(chosen)


def local_answer(prompt: Prompt, hits: list[Hit]) -> str:
    intent = prompt.intent
    if intent == "chitchat":
        return (
            "Hi! I'm MangaAssist. I can find manga, check prices and stock, and explain orders, returns and "
            "shipping. What are you looking for?"
        )
    if intent == "out_of_scope":
        return (
            "I can only help with manga-related questions: finding series and volumes, prices, orders, returns "
            "and shipping."
        )
    if intent == "escalation":
        return (
            "Of course. I'm connecting you with a customer service associate now; they can see this conversation, "
            "so you won't need to repeat yourself."
        )
    if not hits:
        return FALLBACK_NO_CONTEXT
    catalog = [(i, h) for i, h in enumerate(hits, start=1) if h.source == "catalog"]
    policies = [(i, h) for i, h in enumerate(hits, start=1) if h.source != "catalog"]
    parts = []
    if intent == "promotion":
        on_sale = [(i, h) for i, h in catalog if "on sale" in h.text]
        if on_sale:
            parts.append("Here are the current deals I found:")
            parts += [_catalog_line(i, h) for i, h in on_sale]
        elif catalog:
            parts.append("I don't see a discount on that right now. Current prices:")
            parts += [_catalog_line(i, h) for i, h in catalog]
    elif intent in ("product_question", "recommendation") and catalog:
        parts.append("You might like these:" if intent == "recommendation" else "Here's what I found in our catalog:")
        parts += [_catalog_line(i, h) for i, h in catalog]
    if policies and (not parts or intent not in ("product_question", "recommendation", "promotion")):
        i, top = policies[0]
        parts.append(f"{_best_sentences(prompt.user, top, n=sentence_limit(prompt) or 3)} [{i}]")
    if intent in ("order_tracking", "return_request"):
        if prompt.order_refs:  # the shopper gave it: use it, never ask again
            refs = ", ".join(prompt.order_refs)
            parts.append(
                f"I have your order number ({refs}): a customer service associate can look at that order directly."
            )
        else:
            parts.append(
                "If you share your order number, a customer service associate can look at your order directly."
            )
    if not parts:
        return FALLBACK_NO_CONTEXT
    return "\n".join(parts)


# The local responder is not an LLM, but it follows the two prompt rules it can check: it cites
# sources as [n] only when the rendered prompt (system or user turn) asks for it, and it quotes as
# many policy sentences as an "in N sentences" instruction allows (3 without one). So a template that
# drops the citation rule, or asks for two sentences, changes its answers the way it would change a
# model's; any other wording does not (the evaluation page says so).
CITATION_RULE = re.compile(r"\bcite\b[^\n]*\[n\]", re.IGNORECASE)
SENTENCE_RULE = re.compile(r"\bin (one|two|three|four|five|\d+)(?: short)? sentences?\b", re.IGNORECASE)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_CITATION = re.compile(r" ?\[\d+\]")


def sentence_limit(prompt: Prompt) -> int | None:
    """The N of an "answer in N sentences" instruction in the rendered prompt, or None."""
    for text in (prompt.system_text, prompt.user_message()):
        match = SENTENCE_RULE.search(text)
        if match:
            word = match.group(1).lower()
            return max(1, min(8, _NUMBERS.get(word) or int(word)))
    return None


def prompt_asks_for_citations(prompt: Prompt) -> bool:
    return bool(CITATION_RULE.search(prompt.system_text) or CITATION_RULE.search(prompt.user_message()))


def stream_local(prompt: Prompt, hits: list[Hit], *, max_tokens: int) -> Iterator[str | Usage]:
    text = local_answer(prompt, hits)
    if hits and not prompt_asks_for_citations(prompt):
        text = _CITATION.sub("", text)
    pieces = tokenise_for_stream(text)
    stop = "end_turn"
    if len(pieces) > max_tokens:
        pieces, stop = pieces[:max_tokens], "max_tokens"
    yield from pieces
    input_text = prompt.system_text + json.dumps(prompt.messages())
    yield Usage(count_tokens(input_text), len(pieces), stop, "local-grounded-responder")


# -------------------------------------------------------------------------------------- bedrock
def stream_bedrock(prompt: Prompt, *, config: dict, client=None) -> Iterator[str | Usage]:
    """Amazon Bedrock Converse streaming. ``client`` is a boto3 bedrock-runtime client (a
    Stubber-wrapped one in tests)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if client is None:
        import boto3

        client = boto3.client("bedrock-runtime", region_name=config.get("region", "us-east-1"))
    model_id = config["model_id"]
    messages = [{"role": m["role"], "content": [{"text": m["content"]}]} for m in prompt.messages()]
    try:
        response = client.converse_stream(
            modelId=model_id,
            system=[{"text": prompt.system_text}],
            messages=messages,
            inferenceConfig={
                "maxTokens": int(config.get("max_tokens", 400)),
                "temperature": 0.0 if prompt.strict else float(config.get("temperature", 0.2)),
            },
        )
        stop, usage = "end_turn", {}
        for event in response["stream"]:
            if "contentBlockDelta" in event:
                text = event["contentBlockDelta"]["delta"].get("text", "")
                if text:
                    yield text
            elif "messageStop" in event:
                stop = event["messageStop"].get("stopReason", stop)
            elif "metadata" in event:
                usage = event["metadata"].get("usage", {})
            elif "throttlingException" in event or "internalServerException" in event:
                kind = next(iter(event))
                raise GenerationError(
                    "provider_throttled" if kind == "throttlingException" else "provider_error",
                    event[kind].get("message", kind),
                )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        # mid-stream exceptions come as EventStreamError with the event's own code, e.g. "throttlingException"
        throttled = code.lower() in ("throttlingexception", "toomanyrequestsexception", "servicequotaexceededexception")
        raise GenerationError("provider_throttled" if throttled else "provider_error", f"Bedrock {code}") from exc
    except BotoCoreError as exc:
        raise GenerationError("provider_unavailable", f"Bedrock: {exc}") from exc
    yield Usage(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)), stop, model_id)


# ---------------------------------------------------------------------------- openai-compatible
def stream_openai_compatible(
    prompt: Prompt, *, config: dict, http_client=None, secrets_client=None
) -> Iterator[str | Usage]:
    import httpx

    base = config["base_url"].rstrip("/")
    body = {
        "model": config["model_id"],
        "messages": [{"role": "system", "content": prompt.system_text}, *prompt.messages()],
        "stream": True,
        "max_tokens": int(config.get("max_tokens", 400)),
        "temperature": 0.0 if prompt.strict else float(config.get("temperature", 0.2)),
        "stream_options": {"include_usage": True},
    }
    headers = {}
    if config.get("api_key_ref"):  # named by reference, read now (mangaconsole.lib.secret_refs)
        try:
            headers = {"Authorization": f"Bearer {secret_resolve(config['api_key_ref'], client=secrets_client)}"}
        except SecretError as exc:
            raise GenerationError("provider_misconfigured", str(exc)) from exc
    client = http_client or httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0))
    stop, usage, produced = "end_turn", {}, []
    try:
        with client.stream("POST", f"{base}/chat/completions", json=body, headers=headers) as response:
            if response.status_code == 429:
                raise GenerationError("provider_throttled", "OpenAI-compatible endpoint answered 429")
            if response.status_code >= 400:
                raise GenerationError("provider_error", f"OpenAI-compatible endpoint answered {response.status_code}")
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if event.get("usage"):
                    usage = event["usage"]
                for choice in event.get("choices", []):
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        produced.append(text)
                        yield text
                    if choice.get("finish_reason"):
                        stop = {"stop": "end_turn", "length": "max_tokens"}.get(
                            choice["finish_reason"], choice["finish_reason"]
                        )
    except httpx.HTTPError as exc:
        raise GenerationError("provider_unavailable", f"OpenAI-compatible endpoint: {exc}") from exc
    finally:
        if http_client is None:
            client.close()
    yield Usage(
        int(usage.get("prompt_tokens") or count_tokens(json.dumps(body["messages"]))),
        int(usage.get("completion_tokens") or count_tokens("".join(produced))),
        stop,
        config["model_id"],
    )


# ------------------------------------------------------------------------------------- scripted
def stream_scripted(prompt: Prompt, *, config: dict) -> Iterator[str | Usage]:
    """A scripted generator for tests and guardrail drills: it replays the canned answer of the first
    ``script`` rule whose ``match`` regex finds the user's message (else ``default``), in
    ``chunk_chars``-sized pieces when given. Like LiteLLM's ``mock_response``, it lets a test make the
    "model" say exactly what a fooled LLM would (a leaked email, a made-up price) so that the real
    guardrails can be seen catching it. On a strict regeneration it plays the rule's ``strict`` answer."""
    if config.get("fail"):  # a drill: the "model" errors before its first token (S32 fallback tests)
        raise GenerationError(config["fail"], f"scripted failure of {config.get('model_id', 'scripted')}")
    rate = float(config.get("fail_rate") or 0)
    if rate and int.from_bytes(hashlib.sha256(prompt.user.encode()).digest()[:4], "big") / 2**32 < rate:
        # an injected error rate (canary drills): a fixed share of distinct messages fail, reproducibly
        raise GenerationError("model_error", f"injected failure of {config.get('model_id', 'scripted')}")
    answer, strict = config.get("default", "OK."), None
    for rule in config.get("script", []):
        if re.search(rule["match"], prompt.user, re.IGNORECASE):
            answer, strict = rule["answer"], rule.get("strict")
            break
    if prompt.strict and strict:
        answer = strict
    size = int(config.get("chunk_chars") or 0)
    pieces = [answer[i : i + size] for i in range(0, len(answer), size)] if size else tokenise_for_stream(answer)
    yield from pieces
    yield Usage(count_tokens(prompt.system_text + json.dumps(prompt.messages())), len(pieces), "end_turn", "scripted")


def stream_answer(prompt: Prompt, hits: list[Hit], *, config: dict) -> Iterator[str | Usage]:
    provider = config.get("provider", "local")
    if provider == "scripted":
        return stream_scripted(prompt, config=config)
    if provider == "local":
        return stream_local(prompt, hits, max_tokens=int(config.get("max_tokens", 400)))
    if provider == "bedrock":
        return stream_bedrock(prompt, config=config)
    if provider == "openai_compatible":
        return stream_openai_compatible(prompt, config=config)
    raise GenerationError("provider_unknown", f"unknown generation provider {provider!r}")


def stream_with_fallback(prompt: Prompt, hits: list[Hit], *, config: dict) -> Iterator[str | Usage]:
    """The release's generator, then each model of its ``fallbacks`` list in order (S32), when one
    fails before its first token: an error, a throttle or a timeout (the providers' clients time
    out and raise ``GenerationError``). A failure after text was streamed cannot be taken back and
    is raised. The chain of failures is reported in the final ``Usage.extra["fallback"]``, which
    the pipeline writes on the trace's generate span."""
    chain = [config, *config.get("fallbacks", [])]
    failures: list[dict] = []
    for i, cfg in enumerate(chain):
        started = False
        try:
            for item in stream_answer(prompt, hits, config=cfg):
                if isinstance(item, Usage):
                    if failures:
                        item.extra = {**item.extra, "fallback": failures, "served_by": _model_name(cfg)}
                else:
                    started = True
                yield item
            return
        except GenerationError as exc:
            if started or i == len(chain) - 1:
                raise
            failures.append({"model": _model_name(cfg), "error": exc.code, "detail": exc.detail[:200]})


def _model_name(cfg: dict) -> str:
    return cfg.get("model_id") or cfg.get("provider", "local")
