from django import forms

from chat.intent import INTENTS


class TraceSearchForm(forms.Form):
    trace_id = forms.UUIDField(required=False, label="Trace id")
    session_id = forms.UUIDField(required=False, label="Session id")
    user_id = forms.IntegerField(required=False, min_value=1, label="User id")
    intent = forms.ChoiceField(required=False, choices=[("", "Any intent"), *[(i, i) for i in INTENTS]])
    start = forms.DateTimeField(
        required=False, label="From (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    end = forms.DateTimeField(
        required=False, label="To (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError("The end of the range must be after its start.")
        return data
