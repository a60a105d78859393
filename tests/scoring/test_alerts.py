"""Alerts to lead owners (scoring/alerts.py): a job's crossings come as one digest per owner, on the
alerts page and by e-mail; real-time crossings stay one alert each; webhooks stay one per lead."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from scoring.alerts import alerts_send_pending
from scoring.choices import JobState, NotificationKind
from scoring.jobs import rescore_chunk_run, rescore_job_plan
from scoring.models import Notification, RescoreJob, WebhookDelivery, WebhookEndpoint
from scoring.services import leads_rescore
from tests.scoring.test_jobs import add_events, add_leads, model_doc, publish, run_job

pytestmark = pytest.mark.django_db


def publish_crossing(rep, settings, leads=3):
    """`leads` leads of `rep` scored below the MQL line by version 1; version 2 lowers the line,
    and its job (chunks of 2) is planned. Returns the second job."""
    settings.RESCORE_CHUNK_SIZE = 2
    add_leads(leads, owner=rep)
    run_job(RescoreJob.objects.get(version=publish(model_doc(mql=500))))
    job = RescoreJob.objects.get(version=publish(model_doc(mql=5)))
    rescore_job_plan(job_id=job.pk)
    return job


def test_a_jobs_crossings_are_one_digest_e_mailed_once_the_job_is_over(rep, settings):
    # Given a CRM subscribed to MQL crossings, and a publish that makes 3 of a rep's leads MQLs
    WebhookEndpoint.objects.create(name="CRM", url="http://127.0.0.1:9/", secret="s", event_types=["became_mql"])
    job = publish_crossing(rep, settings)
    # When the first chunk is done, nothing is e-mailed yet: the job is not over
    rescore_chunk_run(job_id=job.pk, index=0)
    assert alerts_send_pending() == 0 and mail.outbox == []
    # When the last chunk is done, the rep gets one e-mail for the three leads
    rescore_chunk_run(job_id=job.pk, index=1)
    job.refresh_from_db()
    assert job.state == JobState.DONE
    assert alerts_send_pending() == 1
    (message,) = mail.outbox
    assert message.to == [rep.email]
    assert message.subject == "3 leads became MQL in Pipeline after version 2"
    assert f"/notifications/job/{job.pk}/became_mql/" in message.body
    # and the alerts stay one per lead (the facts), each sent on to the CRM as its own event
    assert Notification.objects.filter(user=rep, job=job, kind=NotificationKind.BECAME_MQL).count() == 3
    assert WebhookDelivery.objects.filter(event_type="became_mql").count() == 3
    # and nothing is sent twice
    assert alerts_send_pending() == 0 and len(mail.outbox) == 1


def test_the_alerts_page_shows_a_jobs_crossings_as_one_line_linking_to_the_leads(rep, settings, client):
    # Given a publish that made 3 of the rep's leads MQLs, and then one lead hot in real time
    job = publish_crossing(rep, settings)
    for index in rescore_job_plan(job_id=job.pk):
        rescore_chunk_run(job_id=job.pk, index=index)
    now = timezone.now()
    an_hour_ago = (now - timedelta(hours=1)).isoformat()
    add_events([{"id": "E1", "lead": "L0001", "kind": "demo_request", "occurred_at": an_hour_ago}])
    lead = Notification.objects.filter(job=job).order_by("lead__external_id")[1].lead
    leads_rescore(version=job.version, as_of=now, lead_ids=[lead.pk])
    client.force_login(rep)
    # When the rep opens the alerts page
    response = client.get("/notifications/")
    entries = response.context["entries"]
    # Then it has two lines: the real-time one on its own, the job's three leads as one
    assert [(e.count, e.title) for e in entries] == [
        (1, str(lead)),
        (3, "3 leads became MQL in Pipeline after version 2"),
    ]
    assert entries[1].link == f"/notifications/job/{job.pk}/became_mql/"
    assert response.context["unread_notifications"] == "2"
    # and the digest's link lists the three leads, each linking to its page
    digest = client.get(entries[1].link)
    body = digest.content.decode()
    assert digest.status_code == 200 and "3 leads became MQL in Pipeline after version 2" in body
    assert [n.lead.external_id for n in digest.context["page"]] == ["L0000", "L0001", "L0002"]
    assert f'href="/leads/{lead.pk}/"' in body


def test_another_users_digest_is_not_found(rep, manager, settings, client):
    job = publish_crossing(rep, settings)
    run_job(job)
    client.force_login(manager)
    assert client.get(f"/notifications/job/{job.pk}/became_mql/").status_code == 404
    assert client.get(f"/notifications/job/{job.pk}/nonsense/").status_code == 404


def test_the_alerts_page_pages(rep, client):
    # Given 60 real-time alerts of a rep
    version = publish(model_doc())
    (lead_id,) = add_leads(1, owner=rep)
    Notification.objects.bulk_create(
        Notification(
            user=rep, lead_id=lead_id, scoring_model_id=version.scoring_model_id, kind="became_hot", message=f"n{i}"
        )
        for i in range(60)
    )
    client.force_login(rep)
    # When the first page is opened, it shows 50 and a way to the rest
    first = client.get("/notifications/")
    assert len(first.context["entries"]) == 50
    assert 'href="?page=2"' in first.content.decode() and "Page 1 of 2" in first.content.decode()
    # and the second page shows the other 10
    assert len(client.get("/notifications/?page=2").context["entries"]) == 10


def test_mark_all_read_shows_only_while_something_is_unread_and_no_alerts_says_so(rep, settings, client):
    client.force_login(rep)
    # Given a rep without any alert, the page says so, with no table and nothing to mark read
    body = client.get("/notifications/").content.decode()
    assert 'id="no-alerts"' in body and "Mark all read" not in body and "<table" not in body
    # Given a publish that made 3 of the rep's leads MQLs, the digest is listed with the button
    run_job(publish_crossing(rep, settings))
    body = client.get("/notifications/").content.decode()
    assert "Mark all read" in body and "3 leads became MQL in Pipeline after version 2" in body
    assert 'id="no-alerts"' not in body
    # When the rep marks them read, the digest stays listed and the button goes
    client.post("/notifications/read/")
    body = client.get("/notifications/").content.decode()
    assert "Mark all read" not in body and "3 leads became MQL in Pipeline after version 2" in body


def test_a_digest_split_over_batches_is_e_mailed_once_with_every_lead_counted(rep, settings):
    # Given a publish that made 5 of a rep's leads MQLs, its job over
    job = publish_crossing(rep, settings, leads=5)
    run_job(job)
    # When the alerts are sent 2 at a time
    sent = alerts_send_pending(limit=2)
    # Then the rep gets one e-mail, counting all five, and every alert is marked sent
    assert sent == 1
    (message,) = mail.outbox
    assert message.subject == "5 leads became MQL in Pipeline after version 2"
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def test_an_alert_writes_its_score_as_the_pages_do(rep, settings):
    # Given a publish that makes a rep's leads MQLs at a score of 10 (a VP title, no events)
    job = publish_crossing(rep, settings, leads=2)
    # When its chunks run
    run_job(job)
    # Then each alert says the score as every page writes it: no trailing zeros, on any database
    assert set(Notification.objects.filter(job=job).values_list("message", flat=True)) == {"Score 10 (cold)"}


def test_the_header_counts_unread_lines_up_to_99_then_says_99_plus(rep, manager, settings, client):
    # Given a job's digest of 3 MQLs and 98 real-time alerts unread by the rep, 5 read ones, and
    # 2 alerts of another user
    job = publish_crossing(rep, settings)
    run_job(job)
    lead = Notification.objects.filter(job=job).first().lead

    def alerts(user, count, **fields):
        Notification.objects.bulk_create(
            Notification(user=user, lead=lead, scoring_model=job.version.scoring_model, kind="became_hot", **fields)
            for _ in range(count)
        )

    alerts(rep, 98)
    alerts(rep, 5, read_at=timezone.now())
    alerts(manager, 2)
    client.force_login(rep)
    # Then the rep's header counts 99 lines: the digest once, each real-time alert, no read one
    assert '<mark class="badge">99</mark>' in client.get("/notifications/").content.decode()
    # When one more arrives, it says 99+
    alerts(rep, 1)
    assert '<mark class="badge">99+</mark>' in client.get("/notifications/").content.decode()
    # and the manager's header counts only the manager's 2
    client.force_login(manager)
    assert '<mark class="badge">2</mark>' in client.get("/notifications/").content.decode()
    # When the rep marks all read, the badge goes
    client.force_login(rep)
    client.post("/notifications/read/")
    assert '<mark class="badge">' not in client.get("/notifications/").content.decode()
