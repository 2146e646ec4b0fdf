from django import forms

from guardrails.models import GuardrailEvent

WINDOWS = [("1", "Last 24 hours"), ("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days")]


class GuardrailFilterForm(forms.Form):
    days = forms.ChoiceField(choices=WINDOWS, required=False, initial="7", label="Window")
    check = forms.ChoiceField(required=False, choices=[("", "Any check")])
    stage = forms.ChoiceField(required=False, choices=[("", "Any stage"), *GuardrailEvent.Stage.choices])
    verdict = forms.ChoiceField(
        required=False,
        choices=[("block", "Blocked"), ("modify", "Modified"), ("", "Blocked or modified")],
        initial="block",
    )
    review = forms.ChoiceField(
        required=False,
        choices=[
            ("any", "Any review state"),
            ("", "Not reviewed"),
            ("confirmed", "Confirmed"),
            ("false_positive", "False positive"),
        ],
        initial="any",
    )

    def __init__(self, *args, checks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["check"].choices = [("", "Any check"), *[(c, c) for c in checks]]


class ReviewForm(forms.Form):
    review = forms.ChoiceField(choices=[("confirmed", "Confirmed"), ("false_positive", "False positive")])
    note = forms.CharField(required=False, max_length=2000)
