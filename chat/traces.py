"""Buffered trace writing: turns hand finished traces to a queue; a thread bulk-inserts them.

The chat hot path never waits for a trace INSERT (ARCHITECTURE: "buffer traces and write them in
bulk"). The writer flushes every ``interval`` seconds or ``batch`` traces, and at interpreter
exit. Assistant and user messages and the session's token count travel with the trace.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from dataclasses import dataclass, field

from django.db import close_old_connections, transaction

from chat.models import ChatMessage, ChatSession, Span, Trace
from experiments import rollup
from guardrails.models import GuardrailEvent

log = logging.getLogger(__name__)


@dataclass
class PendingTurn:
    trace: dict
    spans: list[dict]
    messages: list[dict] = field(default_factory=list)
    session_id: str | None = None
    tokens_used: int | None = None
    budget_exhausted: bool = False
    events: list[dict] = field(default_factory=list)  # guardrail decisions (guardrails.GuardrailEvent)


class TraceWriter:
    def __init__(self, *, interval: float = 0.25, batch: int = 200):
        self.interval, self.batch = interval, batch
        self._queue: queue.Queue[PendingTurn] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.written = 0
        self.failed = 0
        self._stop = threading.Event()

    def submit(self, turn: PendingTurn) -> None:
        from django.conf import settings

        if settings.CHAT_TRACE_WRITES_INLINE:
            # Tests run each case in one transaction the writer thread could not see into.
            self._write([turn])
            return
        self._queue.put(turn)
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="trace-writer", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush, end the writer thread and close its database connection (tests, shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush()
        self._stop.clear()

    def _run(self) -> None:
        from django.db import connections

        try:
            self._loop()
        finally:
            connections.close_all()  # this thread's connections only

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=self.interval)
            except queue.Empty:
                continue
            close_old_connections()  # the writer thread's own connection, kept fresh
            self._write([first, *self._drain(self.batch - 1)])

    def _drain(self, limit: int) -> list[PendingTurn]:
        items = []
        while len(items) < limit:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def flush(self) -> int:
        """Write everything queued now, in the caller's thread (tests, shutdown)."""
        items = self._drain(10**9)
        if items:
            self._write(items)
        return len(items)

    def _write(self, items: list[PendingTurn]) -> None:
        """Bulk-insert ``items`` in one transaction; if that fails, write them one by one so a
        single bad trace loses only itself (logged with its trace id)."""
        with self._flush_lock:
            try:
                self._insert(items)
                return
            except Exception:
                if len(items) == 1:
                    log.exception("trace writer: could not write trace %s", items[0].trace.get("trace_id"))
                    self.failed += 1
                    return
                log.warning("trace writer: a batch of %s failed; writing them one by one", len(items))
            for item in items:
                try:
                    self._insert([item])
                except Exception:
                    log.exception("trace writer: could not write trace %s", item.trace.get("trace_id"))
                    self.failed += 1

    def _insert(self, items: list[PendingTurn]) -> None:
        with transaction.atomic():
            Trace.objects.bulk_create([Trace(**t.trace) for t in items])

            rollup.add(rollup.from_traces(t.trace for t in items))  # per-session totals for experiments
            GuardrailEvent.objects.bulk_create([GuardrailEvent(**e) for t in items for e in t.events])
            Span.objects.bulk_create([Span(trace_id=t.trace["trace_id"], **s) for t in items for s in t.spans])
            session_ids = {t.session_id for t in items if t.session_id}
            sessions = {s.session_id: s for s in ChatSession.objects.filter(session_id__in=session_ids)}
            ChatMessage.objects.bulk_create(
                [
                    ChatMessage(session=sessions[t.session_id], **m)
                    for t in items
                    for m in t.messages
                    if t.session_id in sessions
                ]
            )
            for t in items:
                session = sessions.get(t.session_id)
                if session is not None and t.tokens_used is not None:
                    session.tokens_used = t.tokens_used
                    session.last_seen_at = t.trace["started_at"]
                    if t.budget_exhausted and session.budget_exhausted_at is None:
                        session.budget_exhausted_at = t.trace["started_at"]
            ChatSession.objects.bulk_update(sessions.values(), ["tokens_used", "last_seen_at", "budget_exhausted_at"])
        self.written += len(items)


writer = TraceWriter()
atexit.register(writer.flush)
