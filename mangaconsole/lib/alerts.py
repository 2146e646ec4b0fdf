"""Alerts to people: email through Django's mail backend and a JSON POST to a webhook (Slack,
PagerDuty Events, Opsgenie… anything that takes a JSON body). Both are configured in settings
(ALERT_EMAILS, ALERT_WEBHOOK_URL); each channel's outcome is returned so the caller can record it,
and a failing channel never stops the other."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

log = logging.getLogger(__name__)


def alert_send(*, subject: str, body: str, payload: dict) -> dict:
    """Send on every configured channel; returns {channel: "sent" | "skipped: …" | "failed: …"}."""
    result = {}
    emails = [e for e in getattr(settings, "ALERT_EMAILS", []) if e]
    if emails:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails, fail_silently=False)
            result["email"] = f"sent to {', '.join(emails)}"
        except Exception as exc:  # any backend error is reported, not raised: the other channel still goes
            log.warning("alert email failed: %s", exc)
            result["email"] = f"failed: {exc}"[:300]
    else:
        result["email"] = "skipped: ALERT_EMAILS is empty"
    url = getattr(settings, "ALERT_WEBHOOK_URL", "")
    if url:
        import httpx

        try:
            response = httpx.post(url, json={"subject": subject, "text": body, **payload}, timeout=5.0)
            result["webhook"] = (
                f"sent ({response.status_code})" if response.is_success else f"failed: HTTP {response.status_code}"
            )
        except httpx.HTTPError as exc:
            log.warning("alert webhook failed: %s", exc)
            result["webhook"] = f"failed: {exc}"[:300]
    else:
        result["webhook"] = "skipped: ALERT_WEBHOOK_URL is empty"
    return result
