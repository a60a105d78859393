"""Forms of the rep workspace (the filter form is LeadFilterSet's)."""

from django import forms

from scoring.choices import RejectReason
from scoring.saved_filters import NAME_MAX


class RejectForm(forms.Form):
    reason = forms.ChoiceField(choices=RejectReason.choices, label="Reason")
    text = forms.CharField(required=False, max_length=500, label="Why (required for Other)")

    def clean(self):
        data = super().clean()
        if data.get("reason") == RejectReason.OTHER and not (data.get("text") or "").strip():
            self.add_error("text", "Say why when the reason is Other.")
        return data


class SaveFilterForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX, label="Preset name")
    querystring = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
