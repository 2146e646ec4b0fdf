from django import forms

from evaluation.models import Part
from evaluation.scoring import DEFAULT_THRESHOLDS, THRESHOLD_LABELS
from registry.models import Release


class ThresholdsForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Why the gate changes (audited).")

    def __init__(self, *args, current: dict, **kwargs):
        super().__init__(*args, **kwargs)
        for key, default in DEFAULT_THRESHOLDS.items():
            self.fields[key] = forms.FloatField(
                label=THRESHOLD_LABELS[key],
                initial=current.get(key, default),
                min_value=0,
                max_value=1 if key != "prohibited_max" else 1000,
            )
        self.order_fields([*DEFAULT_THRESHOLDS, "reason"])


class NewRunForm(forms.Form):
    release = forms.ModelChoiceField(queryset=Release.objects.all(), to_field_name="number")
    baseline = forms.ModelChoiceField(queryset=Release.objects.all(), to_field_name="number", required=False)
    intent = forms.CharField(required=False, help_text="Blank: the whole dataset.")
    part = forms.ChoiceField(
        choices=Part.choices, initial=Part.TEST, help_text="Test: the frozen part the gate reports. Dev: to tune on."
    )
