import uuid
from datetime import timedelta

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from chat import charts
from chat.forms import TraceSearchForm
from chat.selectors import trace_get, trace_search
from mangaconsole.access import console_view, public_view

TRACE_PERMISSION = "chat.view_trace"


@public_view
@require_GET
def chat_page(request):
    """The shopper-facing bot. Public like a storefront widget: it reads and changes nothing in the
    console; the WebSocket it opens only answers questions and takes feedback."""
    return render(request, "chat/chat.html")


@console_view(permission=TRACE_PERMISSION)
@require_GET
def trace_list(request):
    form = TraceSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {"start": timezone.now() - timedelta(days=7)}
    page = Paginator(trace_search(**filters), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "chat/trace_list.html", {"form": form, "page": page, "query": query.urlencode()})


@console_view(permission=TRACE_PERMISSION)
@require_GET
def trace_detail(request, trace_id: uuid.UUID):
    trace = trace_get(trace_id=trace_id)
    if trace is None:
        raise Http404(f"No trace {trace_id} (traces are written within a second of the answer).")
    spans = list(trace.spans.all())
    return render(
        request,
        "chat/trace_detail.html",
        {
            "trace": trace,
            "spans": spans,
            "feedback": list(trace.feedback),
            "chart": charts.span_waterfall(trace, spans),
        },
    )
