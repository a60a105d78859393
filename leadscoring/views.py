from django.shortcuts import render

from . import selectors


def home(request):
    """The start page: who you are, what there is, and where your role's work is."""
    context = {"counts": selectors.counts(), "scoring_models": selectors.scoring_models_live()}
    return render(request, "home.html", context)
