"""Incremental knowledge-base ingest (US-5.1): catalog, FAQ and policy files into embedded chunks.

Each document has a checksum: unchanged documents are skipped, changed ones are re-chunked and
re-embedded, documents whose source disappeared are flagged stale. A file that cannot be read or
parsed is recorded as an error with its path and reason, its documents are left as they were, and
the rest of the run completes. Every run is an IngestRun row with its counts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from chat.embeddings import embed_texts, to_bytes
from chat.models import IngestRun, KnowledgeChunk, KnowledgeDocument, KnowledgeSource

ALL_SOURCES = (KnowledgeSource.CATALOG, KnowledgeSource.FAQ, KnowledgeSource.POLICY)


@dataclass
class SourceDocument:
    key: str
    source: str
    path: str
    title: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(f"{self.title}\n{self.text}".encode()).hexdigest()


class SourceError(Exception):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def chunk_words(text: str, *, size: int, overlap: int) -> list[str]:
    """Split into windows of ``size`` words overlapping by ``overlap`` (paragraph-blind, simple, predictable)."""
    if overlap >= size:
        raise ValueError("chunk overlap must be smaller than the chunk size")
    words = text.split()
    if len(words) <= size:
        return [" ".join(words)] if words else []
    step = size - overlap
    return [" ".join(words[i : i + size]) for i in range(0, len(words) - overlap, step)]


def _product_text(p: dict) -> tuple[str, str]:
    title = p["title"]
    price = f"${p['price']}"
    if p.get("list_price"):
        price += f" (on sale, list price ${p['list_price']})"
    stock = "in stock" if int(p.get("stock", 0)) > 0 else "out of stock"
    if p.get("release_date") and p["release_date"] > timezone.now().date().isoformat():
        stock = f"available for pre-order, releases {p['release_date']}"
    lines = [
        f"{title}. Series: {p['series']}. Author: {p['author']}.",
        f"Format: {p['format'].replace('_', ' ')}. Price: {price}. Availability: {stock}. ASIN {p['asin']}.",
        f"Released {p['release_date']}. Genres: {', '.join(p.get('genres') or [])}.",
        p.get("description", ""),
    ]
    return title, " ".join(line for line in lines if line)


def _catalog_documents(root: Path) -> Iterator[SourceDocument]:
    path = root / "catalog.json"
    rel = str(path.relative_to(root))
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(rel, f"cannot read the catalog: {exc}") from exc
    if not isinstance(records, list):
        raise SourceError(rel, "expected a JSON list of products")
    for i, record in enumerate(records, start=1):
        try:
            title, text = _product_text(record)
            yield SourceDocument(f"catalog:{record['asin']}", KnowledgeSource.CATALOG, rel, title, text)
        except (KeyError, TypeError, AttributeError) as exc:
            yield SourceError(f"{rel}#record{i}", f"product record is missing {exc}")  # reported, the rest go on


def _markdown_documents(root: Path, kind: str) -> Iterator[SourceDocument | SourceError]:
    for path in sorted((root / "knowledge" / kind).glob("*.md")):
        rel = str(path.relative_to(root))
        try:
            raw = path.read_text(encoding="utf-8")
            if not raw.startswith("---\n") or "\n---\n" not in raw[4:]:
                raise SourceError(rel, "no front matter ('---' block with a title)")
            header, body = raw[4:].split("\n---\n", 1)
            meta = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
            title = meta.get("title", "").strip()
            if not title or not body.strip():
                raise SourceError(rel, "front matter has no title or the body is empty")
        except UnicodeDecodeError as exc:
            yield SourceError(rel, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            continue
        except OSError as exc:
            yield SourceError(rel, str(exc))
            continue
        except SourceError as exc:
            yield exc
            continue
        yield SourceDocument(f"{kind}:{path.stem}", kind, rel, title, _plain(body))


def _plain(markdown: str) -> str:
    """Markdown to the plain prose the responder quotes: no heading lines, no emphasis markers."""
    text = re.sub(r"^#{1,6}\s.*$", "", markdown, flags=re.MULTILINE)
    return re.sub(r"[*_]{1,2}([^*_]+)[*_]{1,2}", r"\1", text).strip()


def _read_source(root: Path, source: str) -> Iterator[SourceDocument | SourceError]:
    if source == KnowledgeSource.CATALOG:
        try:
            yield from _catalog_documents(root)
        except SourceError as exc:
            yield exc
    else:
        yield from _markdown_documents(root, source)


def kb_ingest(
    *,
    sources=ALL_SOURCES,
    root: Path | None = None,
    embedder_version: str,
    chunk_size: int | None = None,
    chunk_overlap: int | None = None,
    trigger: str = "command",
    progress=None,
) -> IngestRun:
    """Bring the knowledge base in line with the source files. Returns the finished IngestRun.

    A document is re-embedded when its text changed or it was embedded by another embedder
    version. Stale flags are set only for sources read without a file-level error, so a corrupt
    file never makes its documents disappear.
    """
    root = root or settings.KB_SOURCE_DIR
    size = chunk_size or settings.KB_CHUNK_WORDS
    overlap = settings.KB_CHUNK_OVERLAP_WORDS if chunk_overlap is None else chunk_overlap
    if overlap >= size:
        raise ValueError(f"chunk overlap ({overlap}) must be smaller than the chunk size ({size})")
    run = IngestRun.objects.create(
        sources=[str(s) for s in sources],
        trigger=trigger,
        started_at=timezone.now(),
        chunk_size=size,
        chunk_overlap=overlap,
        embedder_version=embedder_version,
    )
    errors: list[dict] = []
    for source in sources:
        seen: set[str] = set()
        file_failed = False
        docs: list[SourceDocument] = []
        for item in _read_source(root, source):
            if isinstance(item, SourceError):
                errors.append({"path": item.path, "reason": item.reason})
                file_failed = file_failed or "#record" not in item.path
                continue
            docs.append(item)
            seen.add(item.key)
        existing = {d.key: d for d in KnowledgeDocument.objects.filter(source=source)}
        changed = [d for d in docs if _needs_embedding(existing.get(d.key), d, embedder_version)]
        run.documents_unchanged += len(docs) - len(changed)
        for batch_start in range(0, len(changed), 64):
            batch = changed[batch_start : batch_start + 64]
            _embed_and_store(batch, existing, run, size=size, overlap=overlap, embedder_version=embedder_version)
            if progress:
                progress(source, batch_start + len(batch), len(changed))
        if not file_failed:
            gone = [key for key, doc in existing.items() if key not in seen and not doc.stale]
            if gone:
                with transaction.atomic():
                    KnowledgeDocument.objects.filter(key__in=gone).update(stale=True, updated_at=timezone.now())
                    KnowledgeChunk.objects.filter(document__key__in=gone).update(stale=True)
                run.documents_stale += len(gone)
    run.errors = errors
    run.finished_at = timezone.now()
    run.status = IngestRun.Status.FINISHED_WITH_ERRORS if errors else IngestRun.Status.SUCCEEDED
    with transaction.atomic():
        run.save()
        if run.documents_processed or run.documents_stale:
            audit_record(
                actor=f"system:kb_ingest:{trigger}",
                action=AuditAction.KB_INGEST,
                target_type="chat.ingestrun",
                target_id=run.pk,
                after={
                    "processed": run.documents_processed,
                    "stale": run.documents_stale,
                    "chunks_created": run.chunks_created,
                    "embedder": embedder_version,
                },
                evidence={"errors": errors[:20]},
                reason=f"Knowledge base ingest ({', '.join(run.sources)})",
            )
    return run


def _needs_embedding(doc: KnowledgeDocument | None, src: SourceDocument, embedder_version: str) -> bool:
    return doc is None or doc.stale or doc.checksum != src.checksum or doc.embedder_version != embedder_version


def _embed_and_store(batch, existing, run, *, size, overlap, embedder_version) -> None:
    pieces: list[tuple[SourceDocument, int, str]] = []
    for doc in batch:
        for ordinal, text in enumerate(chunk_words(doc.text, size=size, overlap=overlap)):
            pieces.append((doc, ordinal, text))
    # Embed the title with the text so short chunks still say what they are about.
    vectors = embed_texts([f"{doc.title}. {text}" for doc, _, text in pieces])
    now = timezone.now()
    with transaction.atomic():
        for doc in batch:
            row, _ = KnowledgeDocument.objects.update_or_create(
                key=doc.key,
                defaults={
                    "source": doc.source,
                    "path": doc.path,
                    "title": doc.title,
                    "checksum": doc.checksum,
                    "embedder_version": embedder_version,
                    "stale": False,
                    "updated_at": now,
                },
            )
            existing[doc.key] = row
        KnowledgeChunk.objects.filter(document__key__in=[d.key for d in batch]).delete()
        KnowledgeChunk.objects.bulk_create(
            KnowledgeChunk(
                document=existing[doc.key],
                ordinal=ordinal,
                source=doc.source,
                title=doc.title,
                text=text,
                embedding=to_bytes(vec),
                embedder_version=embedder_version,
                created_at=now,
            )
            for (doc, ordinal, text), vec in zip(pieces, vectors, strict=True)
        )
    run.documents_processed += len(batch)
    run.chunks_created += len(pieces)
    run.embeddings_generated += len(pieces)
