"""One chat turn: budget → intent → retrieval (embed, retrieve, rerank) → prompt → generation.

``prepare_turn`` does everything before the first token (synchronous, called from the consumer in
a worker thread); the consumer streams the generator; ``finish_turn`` prices the turn, builds the
trace with one span per stage and hands it to the buffered writer. What serves comes from the
``production`` alias of the registry (US-1.1): every trace names the release and the versions.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils import timezone

from chat import entities as entity_linking
from chat import intent as intent_model
from chat.embeddings import embed_query
from chat.generation import GenerationError, Prompt, Usage, count_tokens, stream_with_fallback, tokenise_for_stream
from chat.models import Product
from chat.retrieval import Hit, named_for_contrast, retrieve
from chat.serving import NotServing, ServingContext, serving_context
from chat.traces import PendingTurn, writer
from finops.services import token_cost
from guardrails.checks import Decision, pre_checks, scope_check, scope_model
from guardrails.policy import policy_without
from guardrails.runtime import GuardOutcome, blocked_outcome, guard_answer
from guardrails.streaming import StreamFacts, StreamGuard, published_shapes, stream_facts
from registry.selectors import flags_current

log = logging.getLogger(__name__)
NEEDS_RETRIEVAL = {"recommendation", "product_question", "faq", "order_tracking", "return_request", "promotion"}
# The intents a named catalog entity lifts to a product question (chat.entities): the two that would
# throw the catalog away. Returns, escalations and the rest keep the model's intent (seed 004 US-02).
LIFTED_BY_ENTITY = frozenset({"out_of_scope", "chitchat"})


# What the bot says while the global kill switch is on (S29): fixed text, no model, no retrieval.
SAFE_TEMPLATES = {
    "escalation": "Of course: I'm connecting you with a customer service associate now.",
    "default": (
        "MangaAssist is taking a short break. You can browse the catalog, track an order under Your Orders, "
        "or ask to talk to a person: a customer service associate will help."
    ),
}


@dataclass
class SessionState:
    session_id: uuid.UUID
    user_id: int | None
    budget: int
    tokens_used: int = 0
    history: list[dict] = field(default_factory=list)
    # for experiment targeting: {"user_type": "prime" | "signed_in" | "guest", "region": "JP", "user_id": …}
    attributes: dict = field(default_factory=dict)


@dataclass
class PreparedTurn:
    trace_id: uuid.UUID
    message_id: uuid.UUID
    client_msg_id: str
    text: str
    intent: str
    confidence: float
    hits: list[Hit]
    prompt: Prompt
    ctx: ServingContext
    degraded: bool
    started_at: object
    t0: float
    spans: list[dict]
    stream: object = None
    needs_retrieval: bool = False
    tight: bool = False
    blocked: Decision | None = None  # a pre-generation guardrail refused the message
    fallback: str = ""
    guard_decisions: list[Decision] = field(default_factory=list)
    generator_config: dict | None = None  # the release's, unless a caller overrides it
    safe_mode: bool = False  # the global kill switch was on: a safe template, nothing else
    facts: StreamFacts | None = None  # what the streamed prices, ASINs and links are held to
    entities: entity_linking.Entities | None = None  # the catalog series, volume and edition it names
    vector: object = None  # the message's sentence vector (the scope guard's input, retrieval's query)
    embed_window: tuple[float, float] | None = None  # when it was embedded, if this turn embedded it


def _span(spans: list, name: str, t0: float, start: float, end: float, **fields) -> None:
    spans.append(
        {
            "ordinal": len(spans),
            "name": name,
            "parent": "turn",
            "start_ms": round((start - t0) * 1000, 3),
            "duration_ms": round((end - start) * 1000, 3),
            **fields,
        }
    )


def _guard_spans(spans: list, t0: float, decisions: list[Decision], version: str) -> None:
    """One span per guardrail decision (US-7.1: every decision is a span on the turn's trace)."""
    for d in decisions:
        end = time.perf_counter()
        spans.append(
            {
                "ordinal": len(spans),
                "name": f"guardrail:{d.check}"[:40],
                "parent": f"guardrails_{d.stage}",
                "start_ms": round((end - t0) * 1000 - d.latency_ms, 3),
                "duration_ms": round(d.latency_ms, 4),
                "outputs": {"verdict": d.verdict, "score": d.score, **d.detail},
                "component_version": version,
            }
        )


def classify_turn(
    state: SessionState,
    text: str,
    *,
    client_msg_id: str = "",
    ctx: ServingContext | None = None,
    vector=None,
    t0: float | None = None,
) -> PreparedTurn:
    """Pre-generation guardrails, budget check, entities, intent and the scope guard: the first,
    cheap half of a turn.

    The message is redacted first (US-10.3): everything after, from the intent model to the
    generator and the stored trace, sees only the redacted text. ``vector`` is the message's
    sentence vector when the caller embedded it (the consumer does, batched with other sessions,
    from ``t0``); otherwise it is embedded here (the injection classifier and scope guard read it)."""
    t0 = time.perf_counter() if t0 is None else t0
    started_at = timezone.now()
    spans: list[dict] = []
    ctx = ctx or serving_context(session_id=state.session_id, attributes=state.attributes)
    flags = flags_current()
    switched_off = [k.split(":", 1)[1] for k, on in flags.items() if k.startswith("guardrail:") and not on]
    if switched_off:  # a guardrail check switched off from the console (S29): this turn's policy skips it
        ctx = replace(ctx, policy=policy_without(ctx.policy, switched_off))
    embed_window = None
    if vector is None:
        a = time.perf_counter()
        vector = embed_query(text)
        embed_window = (a, time.perf_counter())
    # the shopper's earlier messages: a multi-turn set-up is judged with the message that triggers it
    context = [m["content"] for m in state.history if m.get("role") == "user"][-2:]
    pre = pre_checks(text, ctx.policy, vector=vector, context=context)
    _guard_spans(spans, t0, pre.decisions, ctx.policy.version)
    text = pre.text

    # Budget (US-6.1): over the budget the turn degrades (no retrieval, no history) instead of failing.
    a = time.perf_counter()
    degraded = state.tokens_used >= state.budget
    tight = not degraded and state.tokens_used + count_tokens(text) * 4 > state.budget
    history = [] if degraded else state.history[-2:] if tight else state.history[-6:]
    _span(
        spans,
        "budget",
        t0,
        a,
        time.perf_counter(),
        inputs={"tokens_used": state.tokens_used, "budget": state.budget},
        outputs={"degraded": degraded, "shortened_context": tight},
    )

    a = time.perf_counter()
    gaz = entity_linking.gazetteer()
    linked = entity_linking.link(text, gaz)
    _span(spans, "entities", t0, a, time.perf_counter(), outputs=linked.as_dict(), component_version=gaz.version)

    a = time.perf_counter()
    model = intent_model.load(*ctx.intent_artifact)
    intent, confidence = intent_model.predict(model, text)
    outputs = {"intent": intent, "confidence": round(confidence, 4)}
    if linked.strong and intent in LIFTED_BY_ENTITY:
        # "tell me about Chainsaw Man volume 1" is a product question whatever the model read
        outputs.update(intent="product_question", model_intent=intent, rule="catalog_entity")
        intent = "product_question"
    _span(
        spans,
        "intent",
        t0,
        a,
        time.perf_counter(),
        inputs={"text": text},
        outputs=outputs,
        component_version=ctx.versions.get("intent_classifier", ""),
    )
    prompt = Prompt(
        system=ctx.prompts.system_text(intent),
        context=[],
        history=history,
        user=text,
        intent=intent,
        version=ctx.prompts.label(intent),
        few_shot=ctx.prompts.few_shot(intent),
        render_user=ctx.prompts.user_renderer(intent),
        order_refs=pre.order_refs,
    )
    turn = PreparedTurn(
        uuid.uuid4(),
        uuid.uuid4(),
        client_msg_id,
        text,
        intent,
        confidence,
        [],
        prompt,
        ctx,
        degraded,
        started_at,
        t0,
        spans,
    )
    turn.safe_mode = flags["kill_switch"]
    turn.entities = linked if linked.strong else None
    # Over the budget a catalog or policy question still gets its top source (k=1, no history), from the
    # local responder, which costs no tokens: the budget bounds the conversation's spend, not its use.
    turn.needs_retrieval = (
        intent in NEEDS_RETRIEVAL and pre.blocked is None and flags["retrieval"] and not turn.safe_mode
    )
    if not flags["llm_generation"] or degraded:
        turn.generator_config = {"provider": "local", "model_id": "local-grounded-responder", "max_tokens": 400}
    if turn.safe_mode or not flags["retrieval"] or not flags["llm_generation"] or switched_off:
        _span(spans, "flags", t0, time.perf_counter(), time.perf_counter(), outputs=dict(flags))
    turn.tight = tight
    turn.blocked, turn.fallback, turn.guard_decisions = pre.blocked, pre.fallback, list(pre.decisions)
    turn.vector, turn.embed_window = vector, embed_window
    if pre.blocked is None and not turn.safe_mode and scope_model(ctx.policy) is not None:
        # The scope guard (guardrails.scope) on the vector retrieval uses too: harmful and off-topic
        # requests get the safe refusal before any product is looked up, whatever the intent said.
        decision, fallback = scope_check(turn.vector, text, ctx.policy, named_entity=turn.entities is not None)
        turn.guard_decisions.append(decision)
        _guard_spans(spans, t0, [decision], ctx.policy.version)
        if decision.verdict == "block":
            turn.blocked, turn.fallback, turn.needs_retrieval = decision, fallback, False
    if pre.blocked is not None:
        # logged for security review: the check and the trace id, never the text
        log.warning("guardrail blocked a message: %s (trace %s)", pre.blocked.check, turn.trace_id)
    return turn


def complete_turn(
    turn: PreparedTurn,
    *,
    query_vector=None,
    embed_window: tuple[float, float] | None = None,
    generator_config: dict | None = None,
) -> PreparedTurn:
    """Retrieval (with ``query_vector`` when the caller embedded it, e.g. in a batch), prompt
    assembly and the generator stream: the second half of a turn, up to the first token."""
    ctx, spans, t0 = turn.ctx, turn.spans, turn.t0
    if turn.blocked is not None:
        turn.stream = _fixed_stream(turn.fallback)
        return turn
    if turn.safe_mode:
        turn.stream = _fixed_stream(SAFE_TEMPLATES.get(turn.intent, SAFE_TEMPLATES["default"]), stop="kill_switch")
        return turn
    generator_config = generator_config or turn.generator_config
    query, exclude = turn.text, ()
    if turn.needs_retrieval and turn.intent == "recommendation":
        # "something similar to Attack on Titan": other series of its genres, not Attack on Titan itself
        exclude = named_for_contrast(turn.text)
        genres = similar_genres(exclude)
        if genres:
            query, query_vector = f"{' '.join(genres)} manga", None
    named = turn.entities
    if named is not None and exclude:
        # "something like Attack on Titan" names a series to go beyond, not one to boost
        kept = tuple(s for s in named.series if not s.lower().startswith(exclude))
        named = replace(named, series=kept) if kept else None
    if turn.needs_retrieval:
        a = time.perf_counter()
        if query_vector is None and query == turn.text and turn.vector is not None:
            query_vector, embed_window = turn.vector, turn.embed_window or (a, a)
        if query_vector is None:
            query_vector = embed_query(query)
            embed_window = (a, time.perf_counter())
        _span(
            spans,
            "embed",
            t0,
            *embed_window,
            inputs={"text": turn.text},
            outputs={"dimensions": 384},
            component_version=ctx.embedder_version,
        )
        timings: dict = {}
        a = time.perf_counter()
        turn.hits = retrieve(
            query,
            embedder_version=ctx.embedder_version,
            intent=turn.intent,
            k=1 if turn.tight or turn.degraded else 3,
            config=ctx.reranker_config,
            timings=timings,
            query_vector=query_vector,
            exclude_titles=exclude,
            distinct_series=turn.intent == "recommendation",
            entities=named,
        )
        retrieve_end = a + timings["retrieve_ms"] / 1000
        _span(spans, "retrieve", t0, a, retrieve_end, outputs={"candidates": timings["candidates"]})
        _span(
            spans,
            "rerank",
            t0,
            retrieve_end,
            retrieve_end + timings["rerank_ms"] / 1000,
            outputs={"citations": [h.citation() for h in turn.hits], "best_score": timings["best_score"]},
            component_version=ctx.versions.get("reranker", ""),
        )

    a = time.perf_counter()
    turn.prompt.context = [{"title": h.title, "text": h.text, "key": h.key, "source": h.source} for h in turn.hits]
    _span(
        spans,
        "prompt_assembly",
        t0,
        a,
        time.perf_counter(),
        outputs={"context_blocks": len(turn.hits), "history_messages": len(turn.prompt.history)},
        component_version=turn.prompt.version,
    )
    turn.stream = stream_with_fallback(turn.prompt, turn.hits, config=generator_config or ctx.generator_config)
    # read here, in the worker thread: the catalog facts may need a query, the stream runs in the event loop
    turn.facts = stream_facts(turn.hits, ctx.policy)
    turn.generator_config = generator_config or ctx.generator_config
    return turn


def similar_genres(names: tuple[str, ...]) -> list[str]:
    """The catalog genres of the first series ``names`` starts, most common first ([] when the catalog
    has no title starting with any of them)."""
    for name in names:
        rows = Product.objects.filter(title__istartswith=name).values_list("genres", flat=True)[:50]
        counts = Counter(g for genres in rows for g in genres or [])
        if counts:
            return [g for g, _ in counts.most_common(3)]
    return []


def _fixed_stream(text: str, *, stop: str = "guardrail_block"):
    yield from tokenise_for_stream(text)
    yield Usage(0, 0, stop, "guardrail" if stop == "guardrail_block" else "safe-template")


def regenerate_strict(turn: PreparedTurn) -> str:
    """The same prompt again under stricter constraints (temperature 0, context-only), collected."""
    prompt = dataclasses.replace(turn.prompt, strict=True)
    config = turn.generator_config or turn.ctx.generator_config
    return "".join(p for p in stream_with_fallback(prompt, turn.hits, config=config) if isinstance(p, str))


def stream_guard(turn: PreparedTurn) -> StreamGuard | None:
    """The streaming filter for this turn (None for a blocked or safe-mode turn: the text is ours)."""
    if turn.blocked is not None or turn.safe_mode:
        return None
    allow = published_shapes(" ".join(h.text for h in turn.hits)) if turn.hits else frozenset()
    # prices, ASINs and links are held until checked, so no fabricated one reaches the shopper (issue 19)
    return StreamGuard(turn.ctx.policy, allow=allow, facts=turn.facts)


def guard_turn(
    turn: PreparedTurn, streamed: str, guard: StreamGuard | None, *, regenerate: bool = True
) -> GuardOutcome:
    """Streaming verdict and post-generation checks on the assembled answer, with one strict
    regeneration when a check fails (run in a worker thread by the consumer)."""
    if turn.blocked is not None:
        return blocked_outcome(turn.fallback, [], turn.blocked.check)
    if turn.safe_mode:
        return GuardOutcome(streamed, "pass", "kill switch: safe template", [], False)
    return guard_answer(
        streamed,
        hits=turn.hits,
        question=turn.text,
        policy=turn.ctx.policy,
        stream_guard=guard,
        regenerate=(lambda: regenerate_strict(turn)) if regenerate else None,
    )


def prepare_turn(
    state: SessionState,
    text: str,
    *,
    client_msg_id: str = "",
    generator_config: dict | None = None,
    ctx: ServingContext | None = None,
) -> PreparedTurn:
    """Everything before the first token, in the calling thread (tools, tests, evaluation).
    ``generator_config`` overrides the release's generator (the adversarial suite's scripted model);
    ``ctx`` serves another release than production (offline evaluation)."""
    return complete_turn(
        classify_turn(state, text, client_msg_id=client_msg_id, ctx=ctx), generator_config=generator_config
    )


@dataclass
class TurnResult:
    answer: str
    streamed: str  # what the client was sent before any replacement
    outcome: GuardOutcome
    payload: dict
    turn: PreparedTurn


class AnswerStream:
    """One answer's generation through the streaming guardrail: the single loop body the WebSocket
    consumer, ``run_turn`` (offline evaluation, smoke tests, replay, benchmarks) and drills all use.
    The caller reads the generator (in its own thread or event loop), hands each item to ``feed``
    and sends what comes back; then ``end`` (or ``fail``), ``outcome`` and ``record``."""

    def __init__(self, turn: PreparedTurn):
        self.turn = turn
        self.guard = stream_guard(turn)
        self.raw: list[str] = []
        self.sent: list[str] = []
        self.usage: Usage | None = None
        self.error = ""
        self.cut = False  # the streaming guardrail stopped generation
        self.gen_start = time.perf_counter()
        self.first_at: float | None = None
        self.gen_end: float | None = None

    def _sent(self, text: str) -> str:
        if text:
            self.first_at = self.first_at or time.perf_counter()
            self.sent.append(text)
        return text

    def feed(self, item) -> str:
        """One item of the generator: the text to send now ('' for none). After a violation the
        generator is closed and ``cut`` is set: stop reading."""
        if isinstance(item, Usage):
            self.usage = item
            return ""
        self.raw.append(item)
        out = self._sent(self.guard.feed(item) if self.guard is not None else item)
        if self.guard is not None and self.guard.violation is not None:
            self.turn.stream.close()  # stop generation
            self.cut = True
            log.warning("streaming guardrail cut an answer (trace %s)", self.turn.trace_id)
        return out

    def end(self) -> str:
        """The generator is done: the text the guardrail still held back."""
        tail = self._sent(self.guard.finish()) if self.guard is not None else ""
        self.gen_end = time.perf_counter()
        return tail

    def fail(self, exc: GenerationError) -> None:
        self.error = f"{exc.code}: {exc.detail}"
        self.gen_end = time.perf_counter()

    def outcome(self) -> GuardOutcome:
        """Streaming verdict and post-generation checks; a failed generation is not regenerated."""
        return guard_turn(self.turn, "".join(self.raw), self.guard, regenerate=not self.error)

    def record(self, state: SessionState, outcome: GuardOutcome, *, record: bool = True) -> dict:
        """Price and trace the turn (with its error, if any: what the canary and the guard count)."""
        return finish_turn(
            state,
            self.turn,
            answer=outcome.answer,
            usage=self.usage,
            gen_start=self.gen_start,
            first_token_at=self.first_at,
            gen_end=self.gen_end,
            error=self.error,
            outcome=outcome,
            record=record,
        )


def run_turn(
    state: SessionState,
    text: str,
    *,
    generator_config: dict | None = None,
    record: bool = True,
    ctx: ServingContext | None = None,
) -> TurnResult:
    """A whole turn, synchronously, through the same ``AnswerStream`` as the WebSocket consumer:
    pre-guardrails, generation through the streaming filter, post-guardrails, trace. A generation
    error is traced as the consumer traces it, then raised."""
    turn = prepare_turn(state, text, generator_config=generator_config, ctx=ctx)
    answer = AnswerStream(turn)
    try:
        for item in turn.stream:
            answer.feed(item)
            if answer.cut:
                break
        answer.end()
    except GenerationError as exc:
        answer.fail(exc)
        answer.record(state, answer.outcome(), record=record)
        raise
    outcome = answer.outcome()
    payload = answer.record(state, outcome, record=record)
    return TurnResult(outcome.answer, "".join(answer.sent), outcome, payload, turn)


def finish_turn(
    state: SessionState,
    turn: PreparedTurn,
    *,
    answer: str,
    usage,
    gen_start: float,
    first_token_at: float | None,
    gen_end: float | None = None,
    error: str = "",
    outcome: GuardOutcome | None = None,
    record: bool = True,
) -> dict:
    """Price the turn, queue its trace, update the session. Returns the ``done`` frame's payload.

    ``gen_end`` is when the last token was sent (the caller may reach here later, from a thread pool).
    """
    end = gen_end or time.perf_counter()
    model_id = usage.model_id if usage else turn.ctx.generator_config.get("model_id", "")
    in_tok, out_tok = (usage.input_tokens, usage.output_tokens) if usage else (count_tokens(turn.text), 0)
    cost = token_cost(model_id=model_id, input_tokens=in_tok, output_tokens=out_tok)
    gen_seconds = end - gen_start
    ttft_ms = (first_token_at - turn.t0) * 1000 if first_token_at else None
    fallback = (usage.extra.get("fallback") if usage else None) or []
    _span(
        turn.spans,
        "generate",
        turn.t0,
        gen_start,
        end,
        outputs={"text": answer, **({"fallback": fallback, "served_by": usage.extra["served_by"]} if fallback else {})},
        component_version=turn.ctx.versions.get("generator", ""),
        input_tokens=in_tok,
        output_tokens=out_tok,
        ttft_ms=round((first_token_at - gen_start) * 1000, 3) if first_token_at else None,
        tokens_per_s=round(out_tok / gen_seconds, 1) if gen_seconds > 0 and out_tok else None,
        stop_reason=usage.stop_reason if usage else "error",
        cost_usd=cost,
        error=error,
    )
    guard_decisions = [*turn.guard_decisions, *(outcome.decisions if outcome else [])]
    if outcome is not None:
        _guard_spans(turn.spans, turn.t0, outcome.decisions, turn.ctx.policy.version)
    verdict = outcome.verdict if outcome is not None else ("blocked" if turn.blocked else "")
    state.tokens_used += in_tok + out_tok
    now = timezone.now()
    state.history += [{"role": "user", "content": turn.text}, {"role": "assistant", "content": answer}]
    citations = [h.citation() for h in turn.hits]
    trace = {
        "trace_id": turn.trace_id,
        "session_id": state.session_id,
        "message_id": turn.message_id,
        "user_id": state.user_id,
        "intent": turn.intent,
        "release": turn.ctx.release,
        "versions": {**turn.ctx.versions, "prompt": turn.prompt.version, "prompt_bundle": turn.ctx.prompts.version_id},
        "user_text": turn.text,
        "answer": answer,
        "citations": citations,
        "started_at": turn.started_at,
        "latency_ms": round((end - turn.t0) * 1000, 3),
        "ttft_ms": round(ttft_ms, 3) if ttft_ms is not None else None,
        "input_tokens": in_tok,
        "output_tokens": out_tok,
        "cost_usd": Decimal(cost),
        "degraded": turn.degraded,
        "error": error,
        "guardrail_verdict": verdict,
        "guardrail_reason": (outcome.reason if outcome else "")[:200],
    }
    messages = [
        {
            "message_id": uuid.uuid4(),
            "client_msg_id": turn.client_msg_id,
            "role": "user",
            "text": turn.text,
            "trace_id": turn.trace_id,
            "created_at": turn.started_at,
        },
        {
            "message_id": turn.message_id,
            "role": "assistant",
            "text": answer,
            "trace_id": turn.trace_id,
            "created_at": now,
        },
    ]
    if record:  # a drill (guardrails_suite, bench_guardrails) stores nothing
        writer.submit(
            PendingTurn(
                trace=trace,
                spans=turn.spans,
                messages=messages,
                session_id=state.session_id,
                tokens_used=state.tokens_used,
                budget_exhausted=state.tokens_used >= state.budget,
                events=[
                    {
                        "trace_id": turn.trace_id,
                        "session_id": state.session_id,
                        "release": turn.ctx.release,
                        "policy_version": turn.ctx.policy.version,
                        "stage": d.stage,
                        "check_name": d.check,
                        "verdict": d.verdict,
                        "latency_ms": round(d.latency_ms, 4),
                        "score": d.score,
                        "detail": d.detail,
                        "text": turn.text if d.verdict in ("block", "modify") else "",
                        "created_at": turn.started_at,
                    }
                    for d in guard_decisions
                ],
            )
        )
    return {
        "message_id": str(turn.message_id),
        "trace_id": str(turn.trace_id),
        "intent": turn.intent,
        "citations": citations,
        "release": turn.ctx.release,
        "degraded": turn.degraded,
        "tokens_used": state.tokens_used,
        "token_budget": state.budget,
        "guardrail": {"verdict": verdict, "reason": outcome.reason if outcome else ""},
        "cost_usd": float(cost),
        "latency_ms": trace["latency_ms"],
        "fallback": fallback,
    }


def warm_up() -> None:
    """Load the guardrail models (PII recognisers, injection classifier, toxicity model), the
    gazetteer, the intent model, the embedder and the retrieval index before the first user waits."""
    try:
        ctx = serving_context()
    except NotServing:
        return
    pre_checks("hello, is Chainsaw Man vol 1 in stock? call me on 555-123-4567", ctx.policy)
    entity_linking.link("jjk 3", entity_linking.gazetteer())
    model = intent_model.load(*ctx.intent_artifact)
    intent_model.predict(model, "hello")
    retrieve("warm up", embedder_version=ctx.embedder_version, config=ctx.reranker_config)
