"""Pages of the background work: rescore jobs with their progress, and the user's alerts."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from scoring.alerts import alert_entries, alert_groups, alerts_mark_read, digest_alerts, digest_title
from scoring.choices import JobState, NotificationKind
from scoring.jobs import job_progress
from scoring.models import RescoreJob


@permission_required("scoring.view_rescorejob", raise_exception=True)
def job_list(request):
    jobs = RescoreJob.objects.select_related("scoring_model", "version", "created_by").order_by("-created_at", "-id")
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    rows = [(job, job_progress(job)) for job in page]
    running = any(job.state in (JobState.PENDING, JobState.RUNNING) for job, _ in rows)
    return render(request, "leads/jobs.html", {"page": page, "rows": rows, "refresh": running})


@permission_required("scoring.view_rescorejob", raise_exception=True)
def job_detail(request, pk: int):
    job = get_object_or_404(RescoreJob.objects.select_related("scoring_model", "version", "created_by"), pk=pk)
    progress = job_progress(job)
    refresh = job.state in (JobState.PENDING, JobState.RUNNING)
    return render(request, "leads/job_detail.html", {"job": job, "progress": progress, "refresh": refresh})


ALERTS_PER_PAGE = 50


def notification_list(request):
    page = Paginator(alert_groups(user=request.user), ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "leads/notifications.html", {"page": page, "entries": alert_entries(page.object_list)})


def notification_digest(request, job_id: int, kind: str):
    """The leads behind one digest of the alerts page: those of the user that crossed in a job."""
    if kind not in NotificationKind.values:
        raise Http404("no such kind of alert")
    job = get_object_or_404(RescoreJob.objects.select_related("scoring_model", "version"), pk=job_id)
    notes = digest_alerts(user=request.user, job=job, kind=kind)
    page = Paginator(notes, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    if not page.paginator.count:
        raise Http404("no alert of yours in this job")
    title = digest_title(
        count=page.paginator.count, kind=kind, model=job.scoring_model.name, version=job.version.number
    )
    return render(request, "leads/notification_digest.html", {"page": page, "job": job, "title": title})


@require_POST
def notifications_read(request):
    alerts_mark_read(user=request.user)
    return redirect("notifications")
