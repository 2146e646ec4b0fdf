from datetime import timedelta

from django import forms
from django.utils import timezone

from audit.models import AuditAction

MAX_RANGE = timedelta(days=3660)


class ExportForm(forms.Form):
    start = forms.DateTimeField(
        label="From (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    end = forms.DateTimeField(
        label="To (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    target_type = forms.CharField(
        label="Component", required=False, max_length=100, help_text="e.g. auth.group, registry.release"
    )
    actor = forms.CharField(required=False, max_length=200, help_text="Username or system:<component>")
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *AuditAction.choices])

    @classmethod
    def initial_range(cls) -> dict:
        now = timezone.now().replace(second=0, microsecond=0)
        return {"start": now - timedelta(days=30), "end": now + timedelta(minutes=1)}

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end <= start:
                raise forms.ValidationError("The end of the range must be after its start.")
            if end - start > MAX_RANGE:
                raise forms.ValidationError("A range can cover at most ten years.")
        return data

    def filters(self) -> dict:
        d = self.cleaned_data
        return {
            "start": d["start"],
            "end": d["end"],
            "target_type": d.get("target_type") or "",
            "actor": d.get("actor") or "",
            "action": d.get("action") or "",
        }
