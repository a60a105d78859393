"""Alerts to lead owners: the in-app notifications written by a rescore, sent on by e-mail.

A crossing in real time (an event made a lead hot) is one alert, e-mailed on its own. A rescore
job (a publish, the nightly decay) can move hundreds of one rep's leads at once: its alerts are
kept one per lead (the facts, and the per-lead webhooks integrations expect), but a rep sees them
as one digest per job and kind ("87 leads became MQL in Upsell after version 2", linking to those
leads) on the alerts page, and gets one e-mail per job and kind, sent once the job is over.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, Count, F, Max, Min, Q, QuerySet, When
from django.urls import reverse
from django.utils import timezone

from engine.fields import HOT
from leadscoring.celery import task_send
from scoring.choices import JobState, NotificationKind
from scoring.models import Notification, RescoreJob
from scoring.webhooks import webhooks_dispatch

log = logging.getLogger(__name__)
BATCH = 500
SUBJECTS = {
    NotificationKind.BECAME_HOT: "{lead} is now hot in {model}",
    NotificationKind.BECAME_MQL: "{lead} became an MQL in {model}",
}
# What a digest says the leads did: "87 leads became MQL".
DIGEST_VERBS = {NotificationKind.BECAME_HOT: "became hot", NotificationKind.BECAME_MQL: "became MQL"}
# A job's alerts are sent once the job is over: one e-mail for all its chunks.
JOB_OVER = (JobState.DONE, JobState.FAILED, JobState.SUPERSEDED)
# The header counts unread lines up to this, then says "99+", as mail and chat apps do.
UNREAD_SHOWN = 99


def digest_title(*, count: int, kind: str, model: str, version: int | None) -> str:
    """`87 leads became MQL in Upsell after version 2`."""
    leads = "1 lead" if count == 1 else f"{count:,} leads"
    after = f" after version {version}" if version is not None else ""
    return f"{leads} {DIGEST_VERBS[kind]} in {model}{after}"


def digest_path(*, job_id: int, kind: str) -> str:
    return reverse("notification-digest", args=[job_id, kind])


def enqueue_alerts() -> None:
    """Wake the alert sender once the caller's transaction commits."""

    def send():  # broker down: the sweep sends pending alerts later
        task_send("scoring.send_alerts", what="alerts")

    transaction.on_commit(send)


def alerts_send() -> int:
    """The alert sender's work (its task): send what is pending; after a whole batch of e-mails,
    more may be waiting, taken by a fresh task. Returns the number of e-mails sent."""
    sent = alerts_send_pending()
    if sent == BATCH:
        enqueue_alerts()
    return sent


def alerts_send_pending(*, limit: int = BATCH) -> int:
    """E-mail notifications not sent yet: one e-mail per real-time alert, one per owner, job and
    kind for a job's alerts (once the job is over), `limit` alerts at a time until none is left.
    Each is claimed first (conditional UPDATE), so a second sender running at the same time skips
    it: an alert is mailed at most once. Returns the number of e-mails sent."""
    sent = 0
    while True:
        mailed, claimed = _send_batch(limit)
        sent += mailed
        if claimed < limit:
            return sent


def _send_batch(limit: int) -> tuple[int, int]:
    """E-mail up to `limit` ready alerts; returns (e-mails sent, alerts claimed)."""
    ready = Notification.objects.filter(emailed_at__isnull=True).filter(
        Q(job__isnull=True) | Q(job__state__in=JOB_OVER)
    )
    ids = list(ready.order_by("id").values_list("id", flat=True)[:limit])
    if not ids:
        return 0, 0
    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(id__in=ids, emailed_at__isnull=True)
            .values_list("id", flat=True)
        )
        Notification.objects.filter(id__in=claimed).update(emailed_at=now)
    connection = get_connection()
    notes = list(
        Notification.objects.filter(id__in=claimed).select_related("user", "lead", "scoring_model", "job__version")
    )
    _webhooks_for(notes)
    mails = []
    digests: dict[tuple, list[Notification]] = {}
    for note in notes:
        if not note.user.email:
            continue
        if note.job_id is None:
            subject = SUBJECTS[note.kind].format(lead=note.lead, model=note.scoring_model.name)
            mails.append((note, subject, f"{subject}.\n{note.message}\n\nLead page: /leads/{note.lead_id}/"))
        else:
            digests.setdefault((note.user_id, note.job_id, note.kind), []).append(note)
    for (_, job_id, kind), group in digests.items():
        first = group[0]
        # A batch may hold part of a job's alerts (BATCH): the e-mail counts every alert of the
        # job for this owner, and the others of the group are already claimed by the same rule.
        count = Notification.objects.filter(user_id=first.user_id, job_id=job_id, kind=kind).count()
        subject = digest_title(count=count, kind=kind, model=first.scoring_model.name, version=first.job.version.number)
        if (
            count > len(group)
            and Notification.objects.filter(
                user_id=first.user_id, job_id=job_id, kind=kind, emailed_at__lt=now
            ).exists()
        ):
            continue  # an earlier batch already mailed this digest
        names = ", ".join(str(n.lead) for n in group[:10]) + (", …" if len(group) > 10 else "")
        body = f"{subject}: {names}.\n\nThe leads: {digest_path(job_id=job_id, kind=kind)}"
        mails.append((first, subject, body))
    sent = 0
    for note, subject, body in mails:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [note.user.email], connection=connection)
            sent += 1
        except OSError as exc:  # a mail server outage must not stop the others
            log.warning("alert %s not e-mailed: %s", note.pk, exc)
    return sent, len(ids)


def _webhooks_for(notes: list[Notification]) -> None:
    """Crossings also go to the webhooks subscribed to them, one event per lead (the payload
    integrations expect; a job's digest is for people only), one delivery per endpoint."""
    with transaction.atomic():
        for note in notes:
            payload = {
                "lead": note.lead.external_id,
                "model": note.scoring_model.slug,
                "message": note.message,
                "at": note.created_at,
            }
            if note.kind == NotificationKind.BECAME_MQL:
                webhooks_dispatch(event_type="became_mql", payload=payload)
            else:
                # Tier changes are sent for the one that matters to sales: into hot.
                webhooks_dispatch(event_type="tier_changed", payload={**payload, "tier": HOT})


# --- reading them ------------------------------------------------------------------------------------


@dataclass
class AlertEntry:
    """One line of the alerts page: a real-time alert, or a job's digest of several."""

    kind: str
    kind_label: str
    model: str
    created_at: datetime
    unread: bool
    count: int
    title: str
    link: str
    message: str = ""


def alert_groups(*, user) -> QuerySet:
    """The user's alerts as page lines, newest first: a real-time alert alone, a job's alerts of
    one kind together (`group` is the job's id, or minus the alert's id)."""
    return (
        Notification.objects.filter(user=user)
        .annotate(
            group=Case(When(job__isnull=True, then=-F("id")), default=F("job_id"), output_field=BigIntegerField())
        )
        .values("group", "kind", "scoring_model_id")
        .annotate(
            count=Count("id"),
            latest=Max("created_at"),
            first_id=Min("id"),
            unread=Count("id", filter=Q(read_at__isnull=True)),
        )
        .order_by("-latest", "-first_id")
    )


def alert_entries(groups) -> list[AlertEntry]:
    """Page lines for `groups` (rows of `alert_groups`), in their order, in one query."""
    groups = list(groups)
    notes = Notification.objects.select_related("lead", "scoring_model", "job__version").in_bulk(
        [g["first_id"] for g in groups]
    )
    entries = []
    for g in groups:
        note = notes[g["first_id"]]
        kind = NotificationKind(g["kind"])
        if g["group"] < 0:
            title, link, message = str(note.lead), f"/leads/{note.lead_id}/", note.message
        else:
            version = note.job.version.number if note.job else None
            title = digest_title(count=g["count"], kind=kind, model=note.scoring_model.name, version=version)
            link, message = digest_path(job_id=g["group"], kind=kind), ""
        entries.append(
            AlertEntry(
                kind=kind,
                kind_label=kind.label,
                model=note.scoring_model.name,
                created_at=g["latest"],
                unread=g["unread"] > 0,
                count=g["count"],
                title=title,
                link=link,
                message=message,
            )
        )
    return entries


@transaction.atomic
def alerts_mark_read(*, user) -> int:
    """Mark every unread alert of `user` read (the alerts page's button); returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def alerts_unread_count(*, user) -> int:
    """Unread lines of the alerts page (a job's digest counts once, however many leads it holds),
    counted up to UNREAD_SHOWN + 1: the header says "99+" beyond that."""
    # On every page, so bounded by the cap, not by the alerts: grouping every unread alert took
    # 423 ms of a rep's lead list at 225k unread (docs/performance.md, "Pages at scale"). Both
    # parts read the partial notification_unread index alone: the real-time alerts stop at the
    # cap, and a digest's alerts are adjacent entries of one (job, kind).
    table = Notification._meta.db_table
    unread = f"FROM {table} WHERE user_id = %(user)s AND read_at IS NULL AND job_id IS"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM (SELECT 1 {unread} NULL LIMIT %(cap)s) a) "
            f"+ (SELECT COUNT(*) FROM (SELECT DISTINCT job_id, kind {unread} NOT NULL LIMIT %(cap)s) d)",
            {"user": user.pk, "cap": UNREAD_SHOWN + 1},
        )
        (count,) = cursor.fetchone()
    return min(count, UNREAD_SHOWN + 1)


def alerts_unread_badge(*, user) -> str:
    """The header's badge: the unread lines of the alerts page, "99+" past UNREAD_SHOWN, "" if none."""
    count = alerts_unread_count(user=user)
    return f"{UNREAD_SHOWN}+" if count > UNREAD_SHOWN else str(count or "")


def digest_alerts(*, user, job: RescoreJob, kind: str) -> QuerySet:
    """The alerts behind one digest: the user's leads that crossed in this job, by lead id."""
    return (
        Notification.objects.filter(user=user, job=job, kind=kind)
        .select_related("lead", "scoring_model")
        .order_by("lead__external_id")
    )
