"""Pages of the background work: rescore jobs with their progress, and the user's alerts."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from .choices import JobState
from .jobs import job_progress
from .models import Notification, RescoreJob


@permission_required("leads.view_rescorejob", raise_exception=True)
def job_list(request):
    jobs = RescoreJob.objects.select_related("scoring_model", "version", "created_by").order_by("-created_at", "-id")
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    rows = [(job, job_progress(job)) for job in page]
    running = any(job.state in (JobState.PENDING, JobState.RUNNING) for job, _ in rows)
    return render(request, "leads/jobs.html", {"page": page, "rows": rows, "refresh": running})


@permission_required("leads.view_rescorejob", raise_exception=True)
def job_detail(request, pk: int):
    job = get_object_or_404(RescoreJob.objects.select_related("scoring_model", "version", "created_by"), pk=pk)
    progress = job_progress(job)
    refresh = job.state in (JobState.PENDING, JobState.RUNNING)
    return render(request, "leads/job_detail.html", {"job": job, "progress": progress, "refresh": refresh})


def notification_list(request):
    notes = Notification.objects.filter(user=request.user).select_related("lead", "scoring_model")
    page = Paginator(notes, 50).get_page(request.GET.get("page"))
    return render(request, "leads/notifications.html", {"page": page})


@require_POST
def notifications_read(request):
    Notification.objects.filter(user=request.user, read_at__isnull=True).update(read_at=timezone.now())
    return redirect("notifications")
