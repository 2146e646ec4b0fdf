from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chat.guardrail_stats import guardrail_summary, known_checks, review_log, verdicts_over_time
from guardrails import charts
from guardrails.forms import GuardrailFilterForm, ReviewForm
from guardrails.services import ReviewError, event_review
from mangaconsole.access import console_view


@console_view(permission="guardrails.view_guardrailevent")
@require_GET
def dashboard(request):
    form = GuardrailFilterForm(request.GET or None, checks=known_checks())
    data = form.cleaned_data if form.is_valid() else {}
    end = timezone.now()
    start = end - timedelta(days=int(data.get("days") or 7))
    review = data.get("review", "any")
    summary = guardrail_summary(start=start, end=end)
    log = review_log(
        start=start,
        end=end,
        check=data.get("check", ""),
        stage=data.get("stage", ""),
        verdict=data.get("verdict", "block") if form.is_bound else "block",
        review=None if review in ("any", None) else review,
    )
    page = Paginator(log, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "guardrails/dashboard.html",
        {
            "form": form,
            "summary": summary,
            "page": page,
            "query": query.urlencode(),
            "chart_checks": charts.blocks_by_check(summary["per_check"]),
            "chart_time": charts.verdicts_over_time(verdicts_over_time(start=start, end=end)),
            "can_review": request.user.has_perm("guardrails.review_guardrailevent"),
            "review_form": ReviewForm(),
        },
    )


@console_view(permission="guardrails.review_guardrailevent")
@require_POST
def review(request, event_id: int):
    form = ReviewForm(request.POST)
    back = request.POST.get("next") or ""
    if not back.startswith("/guardrails/"):
        back = "/guardrails/"
    if not form.is_valid():
        messages.error(request, "Choose 'confirmed' or 'false positive'.")
        return redirect(back)
    try:
        event = event_review(
            event_id=event_id, review=form.cleaned_data["review"], note=form.cleaned_data["note"], actor=request.user
        )
    except ReviewError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, f"Decision {event.pk} ({event.check_name}) marked {event.get_review_display().lower()}.")
    return redirect(back)
