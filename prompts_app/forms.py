import json

from django import forms

from prompts_app.services import BUMPS


class PromptVersionForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "code"}))
    few_shot = forms.CharField(
        required=False,
        label="Few-shot examples (JSON)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"}),
        help_text='A list of {"user": …, "assistant": …} objects.',
    )
    bump = forms.ChoiceField(choices=[(b, b) for b in BUMPS], initial="minor", label="Version bump")
    change_description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    changelog = forms.CharField(max_length=300, label="Changelog line")

    def clean_few_shot(self):
        raw = self.cleaned_data["few_shot"].strip()
        if not raw:
            return []
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
        return value


class ReviewForm(forms.Form):
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Review comment")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500)
