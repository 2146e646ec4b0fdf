from django.conf import settings
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit import charts
from audit.exports import csv_stream, json_stream
from audit.forms import ExportForm
from audit.selectors import audit_actions_summary, audit_chain_verify, audit_entries_filtered, audit_rows
from audit.services import audit_export_record
from mangaconsole.access import console_view
from mangaconsole.lib.streaming import streaming_response

EXPORT_PERMISSION = "audit.export_auditentry"
FORMATS = ("csv", "json", "html")


def _bound_form(request) -> ExportForm:
    if request.GET:
        return ExportForm(request.GET)
    return ExportForm(initial=ExportForm.initial_range())


@console_view(permission=EXPORT_PERMISSION)
@require_GET
def export_page(request):
    return render(request, "audit/export.html", {"form": _bound_form(request)})


@console_view(permission=EXPORT_PERMISSION)
@require_GET
def export_preview(request):
    """HTMX partial: how many entries match, and whether the chain over the range is intact."""
    form = ExportForm(request.GET)
    if not form.is_valid():
        # 200 even when invalid: htmx swaps only successful responses, and the errors must show.
        return render(request, "audit/snippets/preview.html", {"form": form})
    filters = form.filters()
    verification = audit_chain_verify(start=filters["start"], end=filters["end"])
    qs = audit_entries_filtered(**filters).filter(sequence__lte=verification.last_sequence or 0)
    return render(
        request,
        "audit/snippets/preview.html",
        {"form": form, "count": qs.count(), "verification": verification.as_dict(), "query": request.GET.urlencode()},
    )


@console_view(permission=EXPORT_PERMISSION)
@require_GET
def export_download(request, fmt: str):
    if fmt not in FORMATS:
        return HttpResponseBadRequest(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    form = ExportForm(request.GET)
    if not form.is_valid():
        return render(request, "audit/export.html", {"form": form}, status=400)
    filters = form.filters()
    verification = audit_chain_verify(start=filters["start"], end=filters["end"]).as_dict()
    # The export holds exactly the entries that were verified: anything appended meanwhile
    # (this export's own record included) is left for the next export.
    qs = audit_entries_filtered(**filters).filter(sequence__lte=verification["last_sequence"] or 0)
    # The export itself is recorded (who took which slice of the log) before any byte leaves.
    audit_export_record(user=request.user, fmt=fmt, filters=filters, verification=verification)

    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "generated_at": timezone.now().isoformat(),
        "generated_by": request.user.get_username(),
        "filters": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items()},
    }
    if fmt == "html":
        limit = settings.AUDIT_EXPORT_HTML_MAX_ROWS
        rows = []
        for entry in audit_rows(qs):
            if len(rows) == limit:
                break
            rows.append(entry)
        total = qs.count()
        return render(
            request,
            "audit/report.html",
            {
                "meta": meta,
                "verification": verification,
                "rows": rows,
                "total": total,
                "truncated": total > len(rows),
                "summary": audit_actions_summary(qs),
                "chart": charts.entries_per_day(qs),
                "query": request.GET.urlencode(),
            },
        )
    if fmt == "csv":
        response = streaming_response(request, csv_stream(qs), content_type="text/csv; charset=utf-8")
    else:
        response = streaming_response(
            request, json_stream(qs, meta=meta, verification=verification), content_type="application/json"
        )
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    response["X-Audit-Chain-Intact"] = "true" if verification["intact"] else "false"
    response["X-Audit-Chain-Checked"] = str(verification["checked"])
    if verification["first_break"]:
        response["X-Audit-Chain-First-Break"] = str(verification["first_break"]["sequence"])
    return response
