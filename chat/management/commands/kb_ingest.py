from django.core.management.base import BaseCommand, CommandError

from chat.ingest import ALL_SOURCES, kb_ingest
from registry.selectors import current_embedder_version


class Command(BaseCommand):
    help = "Incremental knowledge-base ingest of the catalog, FAQ and policy files (unchanged documents skipped)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            action="append",
            choices=[str(s) for s in ALL_SOURCES],
            help="Only these sources (repeatable); default all",
        )
        parser.add_argument("--chunk-size", type=int, help="Words per chunk (default KB_CHUNK_WORDS)")
        parser.add_argument("--chunk-overlap", type=int, help="Overlapping words (default KB_CHUNK_OVERLAP_WORDS)")

    def handle(self, *args, **opts):
        try:
            embedder = current_embedder_version()
        except LookupError as exc:
            raise CommandError(str(exc)) from exc

        def progress(source, done, total):
            self.stdout.write(f"  {source}: embedded {done}/{total} changed documents")

        try:
            run = kb_ingest(
                sources=opts["source"] or ALL_SOURCES,
                embedder_version=embedder,
                trigger="command",
                chunk_size=opts["chunk_size"],
                chunk_overlap=opts["chunk_overlap"],
                progress=progress,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        secs = (run.finished_at - run.started_at).total_seconds()
        self.stdout.write(
            f"Ingest run {run.pk} ({embedder}, chunks of {run.chunk_size} words, overlap {run.chunk_overlap}) "
            f"{run.status} in {secs:.1f} s: {run.documents_processed} documents processed, "
            f"{run.documents_unchanged} unchanged, {run.documents_stale} flagged stale, {run.chunks_created} chunks "
            f"created, {run.embeddings_generated} embeddings generated, {len(run.errors)} errors."
        )
        for error in run.errors:
            self.stdout.write(self.style.WARNING(f"  error: {error['path']}: {error['reason']}"))
