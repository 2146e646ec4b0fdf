"""Streaming responses that really stream under both WSGI and ASGI.

Django's StreamingHttpResponse, served by an ASGI server, collects a *synchronous* iterator into a
list before sending it (django/http/response.py, ``StreamingHttpResponse.__aiter__``), which
would load a whole export into memory. Under ASGI we therefore hand Django an async iterator that
pulls batches from the synchronous one with ``sync_to_async(thread_sensitive=True)``: every batch
runs on the same thread, so the same database connection and server-side cursor serve the whole
stream.

See Django ticket #33735 (async support added to StreamingHttpResponse, with the warning
"must consume synchronous iterators"); PostHog PR #26374 and okfde/django-filingcabinet PR #73
made the same WSGI/ASGI split for their downloads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

BATCH = 500


async def _async_batches(parts: Iterator, batch: int) -> AsyncIterator:
    take = sync_to_async(lambda: list(islice(parts, batch)), thread_sensitive=True)
    while chunk := await take():
        for part in chunk:
            yield part


def streaming_response(request, parts: Iterable, *, content_type: str, batch: int = BATCH) -> StreamingHttpResponse:
    """A StreamingHttpResponse over ``parts`` that never materialises them, WSGI or ASGI."""
    iterator = iter(parts)
    content = _async_batches(iterator, batch) if isinstance(request, ASGIRequest) else iterator
    return StreamingHttpResponse(content, content_type=content_type)
