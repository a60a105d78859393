"""Alerts to lead owners: the in-app notifications written by a rescore, sent on by e-mail."""

import logging

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db import transaction
from django.utils import timezone

from .choices import NotificationKind
from .models import Notification

log = logging.getLogger(__name__)
BATCH = 500
SUBJECTS = {
    NotificationKind.BECAME_HOT: "{lead} is now hot in {model}",
    NotificationKind.BECAME_MQL: "{lead} became an MQL in {model}",
}


def alerts_send_pending(*, limit: int = BATCH) -> int:
    """E-mail notifications not sent yet. Each is claimed first (conditional UPDATE), so a
    second sender running at the same time skips it: an alert is mailed at most once."""
    ids = list(Notification.objects.filter(emailed_at__isnull=True).order_by("id").values_list("id", flat=True)[:limit])
    if not ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(id__in=ids, emailed_at__isnull=True)
            .values_list("id", flat=True)
        )
        Notification.objects.filter(id__in=claimed).update(emailed_at=now)
    sent = 0
    connection = get_connection()
    notes = list(Notification.objects.filter(id__in=claimed).select_related("user", "lead", "scoring_model"))
    _webhooks_for(notes)
    for note in notes:
        if not note.user.email:
            continue
        subject = SUBJECTS[note.kind].format(lead=note.lead, model=note.scoring_model.name)
        body = f"{subject}.\n{note.message}\n\nLead page: /leads/{note.lead_id}/"
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [note.user.email], connection=connection)
            sent += 1
        except OSError as exc:  # a mail server outage must not stop the others
            log.warning("alert %s not e-mailed: %s", note.pk, exc)
    return sent


def _webhooks_for(notes: list[Notification]) -> None:
    """Crossings also go to the webhooks subscribed to them (one delivery per endpoint)."""
    from .webhooks import webhooks_dispatch

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
                webhooks_dispatch(event_type="tier_changed", payload={**payload, "tier": "hot"})
