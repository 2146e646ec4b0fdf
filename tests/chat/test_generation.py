"""Generation providers: the local responder, Bedrock (botocore, no network), OpenAI-compatible (a local server)."""

import binascii
import io
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from chat.generation import (
    FALLBACK_NO_CONTEXT,
    GenerationError,
    Prompt,
    Usage,
    stream_bedrock,
    stream_local,
    stream_openai_compatible,
)
from chat.retrieval import Hit

CONFIG = {
    "provider": "bedrock",
    "model_id": "anthropic.claude-3-haiku-20240307-v1:0",
    "temperature": 0.1,
    "max_tokens": 50,
}


def _prompt(
    intent="promotion", user="any deals on Berserk Deluxe?", system="Cite each source you use as [n]."
) -> Prompt:
    return Prompt(
        system=system, context=[{"title": "t", "text": "x", "key": "k"}], history=[], user=user, intent=intent
    )


def test_the_local_responder_cites_only_when_the_prompt_asks_it_to():
    hits = [_hit("catalog:B1", "Berserk, Vol. 1", "Price: $14.99. Availability: in stock. ASIN B1.")]
    cited, _ = _split(list(stream_local(_prompt(intent="product_question"), hits, max_tokens=400)))
    plain, _ = _split(list(stream_local(_prompt(intent="product_question", system="Be brief."), hits, max_tokens=400)))
    assert "$14.99, in stock [1]" in cited
    assert "$14.99, in stock" in plain
    assert "[1]" not in plain


def _hit(key, title, text, source="catalog") -> Hit:
    return Hit(1, key, source, title, text, 0.9, 0.8, 0.5)


def _split(items):
    return "".join(i for i in items if isinstance(i, str)), next(i for i in items if isinstance(i, Usage))


# ------------------------------------------------------------------------------------------- local
def test_the_local_responder_quotes_sale_prices_with_citations():
    hits = [
        _hit(
            "catalog:B1",
            "Berserk Deluxe Edition, Vol. 4",
            "Format: deluxe. Price: $39.99 (on sale, list price $49.99). Availability: in stock. ASIN B1.",
        )
    ]
    text, usage = _split(list(stream_local(_prompt(), hits, max_tokens=400)))
    assert "Berserk Deluxe Edition, Vol. 4: $39.99 (on sale, list price $49.99), in stock [1]" in text
    assert usage.stop_reason == "end_turn"
    assert usage.output_tokens > 5


def test_without_context_it_says_it_does_not_know():
    text, _ = _split(
        list(stream_local(_prompt(intent="faq", user="what is the airspeed of a swallow"), [], max_tokens=400))
    )
    assert text == FALLBACK_NO_CONTEXT


def test_max_tokens_cuts_the_answer_and_says_so():
    hits = [
        _hit(
            "policy:returns",
            "Returns",
            "Most manga can be returned within 30 days of delivery for a full refund. " * 20,
            source="policy",
        )
    ]
    items = list(stream_local(_prompt(intent="faq", user="return window"), hits, max_tokens=5))
    text, usage = _split(items)
    assert len([i for i in items if isinstance(i, str)]) == 5
    assert usage.stop_reason == "max_tokens"


# ----------------------------------------------------------------------------------------- bedrock
def _event(event_type: str, payload: dict, message_type: str = "event") -> bytes:
    """One AWS event-stream frame (prelude, headers, payload, CRCs), as Bedrock sends them."""

    def header(name: str, value: str) -> bytes:
        n, v = name.encode(), value.encode()
        return struct.pack("!B", len(n)) + n + b"\x07" + struct.pack("!H", len(v)) + v

    kind = ":event-type" if message_type == "event" else ":exception-type"
    headers = (
        header(":message-type", message_type) + header(kind, event_type) + header(":content-type", "application/json")
    )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


class _Raw(io.BytesIO):
    def stream(self, amt=1024, **_):
        while chunk := self.read(amt):
            yield chunk


def _client_answering(frames: list[bytes]):
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    sent = []

    def reply(request, **_):
        sent.append(json.loads(request.body))
        return AWSResponse(
            request.url, 200, {"content-type": "application/vnd.amazon.eventstream"}, _Raw(b"".join(frames))
        )

    client.meta.events.register("before-send.bedrock-runtime.ConverseStream", reply)
    return client, sent


def test_bedrock_streams_text_and_usage_through_botocores_parser():
    client, sent = _client_answering(
        [
            _event("messageStart", {"role": "assistant"}),
            _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Berserk Deluxe "}}),
            _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "is on sale [1]."}}),
            _event("messageStop", {"stopReason": "end_turn"}),
            _event(
                "metadata",
                {"usage": {"inputTokens": 120, "outputTokens": 9, "totalTokens": 129}, "metrics": {"latencyMs": 80}},
            ),
        ]
    )
    items = list(stream_bedrock(_prompt(), config=CONFIG, client=client))
    text, usage = _split(items)
    assert text == "Berserk Deluxe is on sale [1]."
    assert (usage.input_tokens, usage.output_tokens, usage.stop_reason) == (120, 9, "end_turn")
    request = sent[0]
    assert request["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.1}
    assert request["system"] == [{"text": "Cite each source you use as [n]."}]
    assert "<context>" in request["messages"][-1]["content"][0]["text"]  # retrieved text kept apart


def test_bedrock_throttling_mid_stream_is_a_clear_error():
    client, _ = _client_answering(
        [
            _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "partial"}}),
            _event("throttlingException", {"message": "Too many requests"}, message_type="exception"),
        ]
    )
    with pytest.raises(GenerationError) as caught:
        list(stream_bedrock(_prompt(), config=CONFIG, client=client))
    assert caught.value.code == "provider_throttled"


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 429, "provider_throttled"),
        ("ValidationException", 400, "provider_error"),
        ("AccessDeniedException", 403, "provider_error"),
    ],
)
def test_bedrock_client_errors_map_to_codes(code, status, expected):
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(client) as stub:
        stub.add_client_error("converse_stream", service_error_code=code, http_status_code=status)
        with pytest.raises(GenerationError) as caught:
            list(stream_bedrock(_prompt(), config=CONFIG, client=client))
        stub.assert_no_pending_responses()
    assert caught.value.code == expected


# ------------------------------------------------------------------------------- openai-compatible
class _SSE(BaseHTTPRequestHandler):
    status = 200
    received: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"body": body, "auth": self.headers.get("Authorization")})
        self.send_response(self.status)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if self.status != 200:
            return
        for piece in ("One Piece ", "Vol. 1 ", "is $9.99 [1]."):
            chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
        self.wfile.write(b'data: {"choices":[],"usage":{"prompt_tokens":42,"completion_tokens":7}}\n\n')
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def sse_server():
    _SSE.status, _SSE.received = 200, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SSE)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_openai_compatible_streams_deltas_and_reads_usage(sse_server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "k")
    config = {
        "provider": "openai_compatible",
        "base_url": sse_server,
        "model_id": "llama-3.1-8b-instruct",
        "api_key_ref": "env:TEST_LLM_KEY",  # the key itself is read at call time, never stored
        "max_tokens": 64,
    }
    text, usage = _split(list(stream_openai_compatible(_prompt(), config=config)))
    assert text == "One Piece Vol. 1 is $9.99 [1]."
    assert (usage.input_tokens, usage.output_tokens, usage.stop_reason) == (42, 7, "end_turn")
    request = _SSE.received[0]
    assert request["auth"] == "Bearer k"
    assert request["body"]["stream"] is True
    assert request["body"]["messages"][0] == {"role": "system", "content": "Cite each source you use as [n]."}


def test_openai_compatible_429_is_throttling(sse_server):
    _SSE.status = 429
    with pytest.raises(GenerationError) as caught:
        list(stream_openai_compatible(_prompt(), config={"base_url": sse_server, "model_id": "m"}))
    assert caught.value.code == "provider_throttled"


def test_an_unreachable_endpoint_is_unavailable_not_a_crash():
    with pytest.raises(GenerationError) as caught:
        list(stream_openai_compatible(_prompt(), config={"base_url": "http://127.0.0.1:1/v1", "model_id": "m"}))
    assert caught.value.code == "provider_unavailable"
