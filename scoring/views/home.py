"""The home page: what the workspace holds and the live models."""

from django.shortcuts import render

from leads.selectors import user_sees_all_leads
from scoring import selectors


def home(request):
    """The start page: who you are, what there is, and where your role's work is."""
    context = {
        "counts": selectors.counts(),
        "scoring_models": selectors.scoring_models_live(),
        # The counts are the workbench's; a rep, who sees only their own leads, is told so.
        "sees_all": user_sees_all_leads(user=request.user),
    }
    return render(request, "home.html", context)
