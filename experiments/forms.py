from django import forms

from experiments.models import Metric
from experiments.services import USER_TYPES

EXTRA_ARMS = 3


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=120)
    hypothesis = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    control_weight = forms.IntegerField(min_value=1, max_value=99, initial=50, label="Control weight (%)")
    enrolled_percent = forms.IntegerField(min_value=1, max_value=100, initial=100, label="Sessions enrolled (%)")
    user_types = forms.MultipleChoiceField(
        choices=[(t, t.replace("_", " ")) for t in USER_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every user type.",
    )
    regions = forms.CharField(required=False, help_text="Comma-separated region codes, e.g. JP, US. Empty: all.")
    primary_metric = forms.ChoiceField(choices=Metric.choices, initial=Metric.THUMBS_UP)
    guardrail_metrics = forms.MultipleChoiceField(
        choices=Metric.choices, required=False, widget=forms.CheckboxSelectMultiple, initial=["escalation"]
    )
    alpha = forms.FloatField(min_value=0.001, max_value=0.2, initial=0.05, label="Significance level α")
    planned_days = forms.IntegerField(min_value=1, max_value=90, initial=14)

    def __init__(self, *args, releases=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + [(r.number, f"release {r.number}: {r.notes[:70]}") for r in releases]
        for i in range(1, EXTRA_ARMS + 1):
            self.fields[f"arm{i}_release"] = forms.TypedChoiceField(
                choices=choices, coerce=int, required=i == 1, empty_value=None, label=f"Arm {i} release"
            )
            self.fields[f"arm{i}_weight"] = forms.IntegerField(
                min_value=1, max_value=99, required=i == 1, initial=50 if i == 1 else None, label=f"Arm {i} weight (%)"
            )

    def arm_rows(self):
        return [(self[f"arm{i}_release"], self[f"arm{i}_weight"]) for i in range(1, EXTRA_ARMS + 1)]
