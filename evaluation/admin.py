"""Golden datasets in the admin: browse entries and versions, import a CSV or JSON file as a new
version (validated row by row; nothing is saved if any row is bad), export any version."""

import csv
import io
import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from evaluation.models import (
    Annotation,
    AnnotationBatch,
    AnnotationItem,
    DatasetVersion,
    EvalRun,
    GoldenDataset,
    GoldenEntry,
    TrainingCandidate,
)
from evaluation.services import ENTRY_FIELDS, DatasetError, dataset_version_create, entry_content
from mangaconsole.lib.admin import ReadOnlyAdmin
from mangaconsole.lib.spreadsheet import SafeWriter, cell_restore

LIST_FIELDS = ("turns", "required", "prohibited", "tags")


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV (one column per field, lists as JSON) or JSON / JSON Lines.")
    retire = forms.CharField(required=False, help_text="Keys to retire, comma-separated (a quarterly refresh).")
    notes = forms.CharField(max_length=300)


def rows_from_upload(name: str, data: bytes) -> list[dict]:
    """Rows of an uploaded file; raises DatasetError with the reason for a file that cannot be read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError("the file is not UTF-8 text") from exc
    if name.lower().endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        missing = {"key", "category", "query", "reference"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"the CSV has no column for: {', '.join(sorted(missing))}")
        return [{k: cell_restore(v) for k, v in row.items()} for row in reader]  # undo the export's quoting
    try:
        if name.lower().endswith(".jsonl"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(value, list):
        raise DatasetError("a JSON file must hold a list of entries")
    return value


def version_export(version: DatasetVersion, fmt: str) -> HttpResponse:
    rows = [entry_content(e) for e in version.entries.order_by("key")]
    name = f"{version.dataset.name}-v{version.number}"
    if fmt == "json":
        body = json.dumps(
            {"dataset": version.dataset.name, "version": version.number, "sha256": version.sha256, "entries": rows},
            indent=1,
            ensure_ascii=False,
        )
        response = HttpResponse(body, content_type="application/json")
    else:
        out = io.StringIO()
        writer = SafeWriter(csv.DictWriter(out, fieldnames=list(ENTRY_FIELDS)))  # no formulas (OWASP)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if k in LIST_FIELDS else v for k, v in row.items()})
        response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@admin.register(GoldenDataset)
class GoldenDatasetAdmin(ReadOnlyAdmin):
    list_display = ("name", "description", "created_at")
    readonly_fields = ("name", "description", "thresholds", "created_at")

    def get_urls(self):
        return [
            path(
                "<int:object_id>/import/",
                self.admin_site.admin_view(self.import_view),
                name="evaluation_goldendataset_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request, object_id):
        if not request.user.has_perm("evaluation.add_datasetversion"):
            raise PermissionDenied
        dataset = get_object_or_404(GoldenDataset, pk=object_id)
        problems = []
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            retire = [k.strip() for k in form.cleaned_data["retire"].split(",") if k.strip()]
            try:
                if upload.size > settings.GOLDEN_IMPORT_MAX_BYTES:
                    raise DatasetError(
                        f"the file is {upload.size:,} bytes; an import takes at most "
                        f"{settings.GOLDEN_IMPORT_MAX_BYTES:,} (GOLDEN_IMPORT_MAX_BYTES): split it into versions"
                    )
                rows = rows_from_upload(upload.name, upload.read())
                if len(rows) > settings.GOLDEN_IMPORT_MAX_ROWS:
                    raise DatasetError(
                        f"the file holds {len(rows):,} entries; an import takes at most "
                        f"{settings.GOLDEN_IMPORT_MAX_ROWS:,} (GOLDEN_IMPORT_MAX_ROWS)"
                    )
                version = dataset_version_create(
                    dataset=dataset, rows=rows, retire=retire, actor=request.user, notes=form.cleaned_data["notes"]
                )
            except DatasetError as exc:
                problems = [str(exc), *exc.problems]
            else:
                messages.success(
                    request,
                    f"{version}: {version.entry_count} entries ({len(version.added)} added or revised, "
                    f"{len(version.retired)} retired), sha256 {version.sha256[:12]}.",
                )
                return redirect(reverse("admin:evaluation_datasetversion_change", args=[version.pk]))
        return render(
            request,
            "evaluation/admin_import.html",
            {
                **self.admin_site.each_context(request),
                "dataset": dataset,
                "form": form,
                "problems": problems,
                "title": f"Import entries into {dataset.name}",
                "opts": self.model._meta,
            },
        )


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ReadOnlyAdmin):
    list_display = ("dataset", "number", "entry_count", "short_sha", "created_by", "created_at")
    readonly_fields = (
        "dataset",
        "number",
        "sha256",
        "entry_count",
        "added",
        "retired",
        "notes",
        "created_by",
        "created_at",
    )
    exclude = ("entries",)
    actions = ["export_json", "export_csv"]

    @admin.display(description="sha256")
    def short_sha(self, obj):
        return obj.sha256[:12]

    def _one(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one version to export.", messages.WARNING)
            return None
        return queryset.first()

    @admin.action(description="Export the selected version as JSON", permissions=["view"])
    def export_json(self, request, queryset):
        version = self._one(request, queryset)
        return version_export(version, "json") if version else None

    @admin.action(description="Export the selected version as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        version = self._one(request, queryset)
        return version_export(version, "csv") if version else None


@admin.register(GoldenEntry)
class GoldenEntryAdmin(ReadOnlyAdmin):
    list_display = ("key", "revision", "category", "expected_intent", "query", "expect_block")
    list_filter = ("category", "expected_intent", "expect_block")
    search_fields = ("key", "query", "reference")


@admin.register(EvalRun)
class EvalRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "release", "baseline", "intent", "status", "done", "total", "triggered_by", "created_at")
    list_filter = ("status",)


@admin.register(AnnotationBatch)
class AnnotationBatchAdmin(ReadOnlyAdmin):
    list_display = ("name", "source", "status", "requested", "overlap_share", "created_by", "created_at")
    list_filter = ("source", "status")


@admin.register(AnnotationItem)
class AnnotationItemAdmin(ReadOnlyAdmin):
    list_display = ("batch", "position", "intent", "needed", "bertscore", "thumbs", "adjudicated_by", "sent_to")
    list_filter = ("intent", "needed")
    raw_id_fields = ("trace",)


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ("item", "annotator", "factual", "helpful", "tone", "format", "purchase", "created_at")
    list_filter = ("purchase",)


@admin.register(TrainingCandidate)
class TrainingCandidateAdmin(ReadOnlyAdmin):
    list_display = ("trace_id", "intent", "created_by", "created_at")
