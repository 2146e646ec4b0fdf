"""Benchmark: real WebSocket clients against a running ASGI server (daphne).

Starts daphne on the configured database (or uses --url), warms it up, then runs ``--sessions``
concurrent shoppers, each sending ``--turns`` messages drawn from the labelled intent dataset and
waiting ``--think-ms`` (±50%) between an answer and the next question, as people do. Prints time to
first token and full turn percentiles measured at the client, per-stage p99 from the stored spans,
and lost messages (sent without a done or error frame). The last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

import orjson
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.models import Span
from mangaconsole.lib.asgi_server import daphne_start


def _pct(values: list[float]) -> dict:
    if len(values) < 2:
        v = values[0] if values else None
        return {"p50": v, "p95": v, "p99": v}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 2), "p95": round(q[94], 2), "p99": round(q[98], 2)}


class Command(BaseCommand):
    help = "Drive real WebSocket chat sessions against an ASGI server and report latency and losses."

    def add_arguments(self, parser):
        parser.add_argument("--sessions", type=int, default=50)
        parser.add_argument("--turns", type=int, default=20)
        parser.add_argument("--think-ms", type=int, default=2000, help="Mean pause between answer and next question")
        parser.add_argument("--url", help="ws://host:port of a running server (default: start daphne here)")
        parser.add_argument("--warmup-turns", type=int, default=10)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, **opts):
        rng = random.Random(opts["seed"])
        questions = [
            json.loads(line)["text"] for line in (settings.DATA_DIR / "intents.jsonl").read_text().splitlines()
        ]
        proc, url = None, opts["url"]
        if url is None:
            proc, url = self._start_daphne()
        try:
            result = asyncio.run(self._run(url, questions, rng, opts))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=20)
        time.sleep(1.0)  # let the server's trace writer flush
        stages = self._stage_p99(result["sessions"])
        self._report(result, stages, opts)

    def _start_daphne(self):
        log = Path(settings.VAR_DIR) / "bench-chat-daphne.log"
        try:
            proc, port = daphne_start(env={"CHAT_WARM_UP": "1"}, log=log)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        return proc, f"ws://127.0.0.1:{port}"

    async def _session(self, url, questions, rng, turns, think_ms, stats, record=True):
        import websockets

        if record:  # shoppers arrive spread over the first think interval, not all in one instant
            await asyncio.sleep(rng.uniform(0, think_ms) / 1000)
        async with websockets.connect(f"{url}/ws/chat/", origin=url.replace("ws://", "http://"), max_size=2**22) as ws:
            hello = json.loads(await ws.recv())
            if record:
                stats["sessions"].append(hello["session_id"])
            for i in range(turns):
                if i:
                    await asyncio.sleep(think_ms * rng.uniform(0.5, 1.5) / 1000)
                text = rng.choice(questions)
                sent = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "text": text, "client_msg_id": f"{i}"}))
                stats["sent"] += record
                first = None
                while True:
                    try:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
                    except TimeoutError:
                        stats["timeouts"] += record
                        break
                    if frame["type"] == "token":
                        first = first or time.perf_counter()
                        continue
                    now = time.perf_counter()
                    if not record:
                        break
                    if frame["type"] == "done":
                        stats["done"] += 1
                        stats["ttft"].append(((first or now) - sent) * 1000)
                        stats["turn"].append((now - sent) * 1000)
                    else:
                        stats["errors"] += 1
                        stats["error_codes"][frame.get("code", "?")] = (
                            stats["error_codes"].get(frame.get("code", "?"), 0) + 1
                        )
                    break

    async def _run(self, url, questions, rng, opts):
        stats = {
            "sent": 0,
            "done": 0,
            "errors": 0,
            "timeouts": 0,
            "ttft": [],
            "turn": [],
            "sessions": [],
            "error_codes": {},
        }
        warm = {**stats, "sessions": [], "ttft": [], "turn": [], "error_codes": {}}
        await self._session(url, questions, random.Random(1), opts["warmup_turns"], 0, warm, record=False)
        started = time.perf_counter()
        await asyncio.gather(
            *[
                self._session(url, questions, random.Random(rng.random()), opts["turns"], opts["think_ms"], stats)
                for _ in range(opts["sessions"])
            ]
        )
        stats["wall_s"] = time.perf_counter() - started
        return stats

    def _stage_p99(self, session_ids) -> dict:

        rows = Span.objects.filter(trace__session_id__in=session_ids).values_list("name", "duration_ms")
        by_stage: dict[str, list[float]] = {}
        for name, ms in rows:
            by_stage.setdefault(name, []).append(ms)
        return {name: _pct(values)["p99"] for name, values in sorted(by_stage.items())} | {
            "_spans": sum(len(v) for v in by_stage.values())
        }

    def _report(self, r, stages, opts):
        out = self.stdout.write
        lost = r["sent"] - r["done"] - r["errors"]
        ttft, turn = _pct(r["ttft"]), _pct(r["turn"])
        spans = stages.pop("_spans")
        out(
            f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, one daphne process"
        )
        out(
            f"sizes: {opts['sessions']} concurrent sessions × {opts['turns']} turns, "
            f"think time {opts['think_ms']} ms ±50%, "
            f"session starts spread over the first {opts['think_ms']} ms, warm-up {opts['warmup_turns']} turns, "
            f"questions drawn from the intent dataset"
        )
        out(
            f"sent {r['sent']}, answered {r['done']}, error frames {r['errors']} {r['error_codes'] or ''}, "
            f"lost {lost}, wall {r['wall_s']:.1f} s, {r['done'] / r['wall_s']:.1f} answered messages/s"
        )
        out(f"time to first token ms: p50 {ttft['p50']} p95 {ttft['p95']} p99 {ttft['p99']}")
        out(f"full turn ms:           p50 {turn['p50']} p95 {turn['p95']} p99 {turn['p99']}")
        out(f"per-stage p99 ms from {spans} stored spans: " + ", ".join(f"{k} {v}" for k, v in stages.items()))
        out(
            orjson.dumps(
                {
                    "messages_per_s": round(r["done"] / r["wall_s"], 2),
                    "ttft_p50_ms": ttft["p50"],
                    "ttft_p99_ms": ttft["p99"],
                    "turn_p99_ms": turn["p99"],
                    "lost_messages": lost,
                    "errors": r["errors"],
                    "stage_p99_ms": stages,
                    "sessions": opts["sessions"],
                    "turns": opts["turns"],
                    "think_ms": opts["think_ms"],
                }
            ).decode()
        )
