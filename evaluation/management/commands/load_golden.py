"""Load the golden dataset file committed in the repository as a dataset version (idempotent)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evaluation.services import DatasetError, dataset_default, dataset_version_create, entries_sha256

GOLDEN_FILE = Path(__file__).resolve().parents[2] / "data" / "golden_v1.jsonl"


class Command(BaseCommand):
    help = "Load evaluation/data/golden_v1.jsonl (or --file) into the golden dataset as a new version if it changed."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(GOLDEN_FILE))

    def handle(self, *args, file, **options):
        rows = [json.loads(line) for line in Path(file).read_text().splitlines() if line.strip()]
        dataset = dataset_default()
        if dataset.versions.filter(sha256=entries_sha256(rows)).exists():
            self.stdout.write(f"{dataset.name}: {len(rows)} entries already loaded")
            return
        current = dataset.versions.order_by("-number").first()
        # The file is the whole dataset: keys it no longer holds are retired (they stay in old versions).
        retire = (
            sorted(set(current.entries.values_list("key", flat=True)) - {r.get("key") for r in rows}) if current else []
        )
        try:
            version = dataset_version_create(
                dataset=dataset, rows=rows, actor="system:load_golden", notes=f"Loaded {Path(file).name}", retire=retire
            )
        except DatasetError as exc:
            raise CommandError(f"{exc}: " + "; ".join(exc.problems[:20])) from exc
        self.stdout.write(f"{version}: {version.entry_count} entries, sha256 {version.sha256[:12]}")
