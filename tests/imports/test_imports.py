"""The CSV import page: upload, column mapping with CRM presets, dry-run preview, background import.

Malformed files (wrong encoding, UTF-16 byte-order mark, unclosed quote, wrong delimiter) are
refused with a clear message and store nothing; big files are streamed, never read whole.
"""

import tracemalloc

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile

from imports import tasks
from imports.choices import ImportKind, ImportState
from imports.models import ImportUpload
from imports.uploads import (
    EXTRA,
    UploadError,
    suggest_mapping,
    upload_check,
    upload_path,
    upload_preview,
    upload_queue,
    upload_run,
    upload_store,
)
from leads.models import Event, Lead
from tests.apihelpers import add_lead
from tests.imports.crm_data import CRM, EXPECTED, events_stored, leads_stored

pytestmark = pytest.mark.django_db
START = "/leads/import/"
CRM_HEADER = (
    "First Name,Last Name,Email,Company,Job Title,Industry,Number of Employees,Annual Revenue,Lead Source,"
    "Country,Lead Status"
)


@pytest.fixture(autouse=True)
def _upload_dir(settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture
def scoring_calls():
    """Leads queued for real-time scoring (the pending table the ingest workers drain)."""
    from scoring.models import PendingScore

    return lambda: sorted(PendingScore.objects.values_list("lead_id", flat=True))


def csv_file(text: str | bytes, name="export.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def crm_export() -> str:
    return "\n".join(
        [
            CRM_HEADER,
            "Ada,Lovelace,ada@example.com,Analytical,VP Engineering,Software,250,1200000,Webinar,UK,Open",
            'Grace,Hopper,grace@example.com,"Navy, US",CTO,Government,many,,Event,US,Working',
            "Alan,Turing,alan@example.com,Bletchley,Researcher,Research,12,,Referral,UK,",
        ]
    )


def upload(client, text, kind="leads", delimiter=","):
    return client.post(START, {"kind": kind, "delimiter": delimiter, "file": csv_file(text)})


# --- permissions ---------------------------------------------------------------------------------


def test_only_users_who_may_write_leads_or_events_import(client, rep, marketer, admin_client):
    for user in (rep, marketer):
        client.force_login(user)
        assert client.get(START).status_code == 403
    assert admin_client.get(START).status_code == 200


# --- the whole flow ----------------------------------------------------------------------------------


def test_a_crm_export_is_mapped_previewed_and_imported(
    admin_client, admin_user, scoring_calls, monkeypatch, django_capture_on_commit_callbacks
):
    # Given a CRM export with the usual column names and no id or creation date
    response = upload(admin_client, crm_export())
    assert response.status_code == 302
    up = ImportUpload.objects.get()
    assert response.url == f"{START}{up.pk}/"
    assert up.header[0] == "First Name" and up.state == ImportState.UPLOADED

    # Then the preset maps the usual names, and unknown columns go to attributes
    assert up.mapping == [
        "first_name", "last_name", "email", "company", "title", "industry", "employees", "annual_revenue",
        "lead_source", "country", EXTRA,
    ]  # fmt: skip
    page = admin_client.get(f"{START}{up.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "attributes.lead_status" in html
    # Without created_at the import is not offered until the user chooses what to do.
    assert "Map a column to created_at" in html

    # When the user asks for the upload time as created_at, the preview shows each row's fate
    form = {f"col_{i}": t for i, t in enumerate(up.mapping)} | {"naive": "reject", "missing_created": "now"}
    page = admin_client.post(f"{START}{up.pk}/", form | {"action": "preview"})
    html = page.content.decode()
    assert "employees: &#x27;many&#x27; is not a number" in html and "2 valid" in html
    assert not Lead.objects.exists()  # a preview stores nothing

    # And the import runs in the background, on the ingest queue
    sent = []
    monkeypatch.setattr(tasks.import_upload, "apply_async", lambda args, **kw: sent.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{START}{up.pk}/", form | {"action": "import"})
    assert response.status_code == 302 and response.url == f"{START}{up.pk}/progress/"
    assert sent == [up.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert upload_run(upload_id=up.pk) == ImportState.DONE

    up.refresh_from_db()
    assert (up.rows_total, up.rows_done, up.accepted, up.rejected) == (3, 3, 2, 1)
    assert up.errors == [[3, "employees: 'many' is not a number"]]
    assert up.bytes_done == up.size and up.percent == 100.0
    ada = Lead.objects.get(external_id="ada@example.com")  # no id column: the e-mail is the id
    assert (ada.first_name, ada.title, ada.employees, ada.annual_revenue) == ("Ada", "VP Engineering", 250, 1200000.0)
    assert ada.attributes == {"lead_status": "Open"} and ada.created_at == up.created_at
    assert Lead.objects.get(external_id="alan@example.com").attributes == {}
    assert scoring_calls() == sorted(Lead.objects.values_list("pk", flat=True))
    assert not upload_path(up).exists()  # the file goes once imported

    progress = admin_client.get(f"{START}{up.pk}/progress/").content.decode()
    assert "Done" in progress and "employees: &#x27;many&#x27; is not a number" in progress


def test_presets_and_our_own_field_names(admin_user):
    salesforce = ["Lead ID", "First Name", "No. of Employees", "Create Date", "Lead Owner", "Rating"]
    assert suggest_mapping("leads", salesforce, "salesforce") == [
        "id", "first_name", "employees", "created_at", "owner", EXTRA,
    ]  # fmt: skip
    hubspot = ["Record ID", "Company Name", "Country/Region", "Original Source", "Job Title"]
    assert suggest_mapping("leads", hubspot, "hubspot") == ["id", "company", "country", "lead_source", "title"]
    ours = ["id", "created_at", "employees", "attributes.plan", "EMAIL"]
    assert suggest_mapping("leads", ours) == ["id", "created_at", "employees", EXTRA, "email"]
    events = ["Event ID", "lead", "Event Type", "Timestamp", "properties.url", "Campaign"]
    assert suggest_mapping("events", events) == ["id", "lead", "kind", "occurred_at", EXTRA, EXTRA]


def test_events_import_with_properties_and_naive_times_read_as_utc(admin_user):
    add_lead("L-1")
    text = (
        "id,lead,kind,occurred_at,properties.url,Campaign\n"
        "E-1,L-1,page_view,2026-05-01T10:00:00,/pricing,Spring\n"
        "E-1,L-1,page_view,2026-05-01T10:00:00,/pricing,Spring\n"
        "E-2,L-404,page_view,2026-05-01T10:00:00Z,,\n"
    )
    up = upload_store(file=csv_file(text), kind=ImportKind.EVENTS, delimiter=",", user=admin_user)
    preview = upload_preview(upload=up, mapping=up.mapping, options={"naive": "reject"})
    assert [r["error"].split(" ")[0] for r in preview] == ["occurred_at:", "occurred_at:", "lead:"]
    assert "has no UTC offset" in preview[0]["error"] and "unknown lead id 'L-404'" in preview[2]["error"]
    upload_queue(upload=up, mapping=up.mapping, options={"naive": "utc"})
    assert upload_run(upload_id=up.pk) == ImportState.DONE
    up.refresh_from_db()
    assert (up.accepted, up.duplicates, up.rejected) == (1, 1, 1)
    event = Event.objects.get()
    assert event.properties == {"url": "/pricing", "campaign": "Spring"}
    assert event.occurred_at.isoformat() == "2026-05-01T10:00:00+00:00"


def test_a_mapping_that_cannot_work_is_refused(admin_user):
    up = upload_store(file=csv_file("a,b\n1,2\n"), kind=ImportKind.EVENTS, delimiter=",", user=admin_user)
    with pytest.raises(UploadError, match="Two columns are mapped to lead"):
        upload_queue(upload=up, mapping=["lead", "lead"], options={})
    assert ImportUpload.objects.get().state == ImportState.UPLOADED


# --- malformed files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, delimiter, message",
    [
        (b"Email;Company\na@example.com;Acme\n", ",", "looks semicolon-separated"),
        ("Email,Company\ncafé@example.com,Acmé\n".encode("latin-1"), ",", "not UTF-8 text (byte 0xe9"),
        ("id,created_at\n1,2026-01-01T00:00:00Z\n".encode("utf-16"), ",", "UTF-16 byte-order mark"),
        (b"", ",", "empty"),
        (b"\n\nid\n", ",", "first line is blank"),
        (b"id,,email\n", ",", "Column 2 of the header has no name"),
        (b"id,email,id\n", ",", "repeats column names (id)"),
        (b'id,"email\n', ",", "Line 1 (the header) is malformed CSV"),
    ],
)
def test_malformed_files_are_refused_at_upload_and_keep_nothing(admin_client, settings, data, delimiter, message):
    response = admin_client.post(
        START, {"kind": "leads", "delimiter": delimiter, "file": SimpleUploadedFile("bad.csv", data)}
    )
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'") or (
        not data and "empty" in response.content.decode()
    )
    assert not ImportUpload.objects.exists() and not Lead.objects.exists()
    assert not any(settings.IMPORT_UPLOAD_DIR.iterdir()) if settings.IMPORT_UPLOAD_DIR.exists() else True


def test_a_utf8_byte_order_mark_is_fine(admin_user):
    text = "\ufeffid,created_at,Plan\nL-1,2026-01-01T00:00:00Z,pro\n"
    up = upload_store(file=csv_file(text), kind=ImportKind.LEADS, delimiter=",", user=admin_user)
    assert up.header == ["id", "created_at", "Plan"]
    upload_queue(upload=up, mapping=up.mapping, options={})
    assert upload_run(upload_id=up.pk) == ImportState.DONE
    assert Lead.objects.get().attributes == {"plan": "pro"}


@pytest.mark.parametrize(
    "tail, message",
    [
        ('L-3,2026-01-01T00:00:00Z,"never closed\nL-4,2026-01-01T00:00:00Z,x\n', "unclosed quote"),
        ("L-3,2026-01-01T00:00:00Z,caf\xe9\n", "not UTF-8 text"),
        ('L-3,2026-01-01T00:00:00Z,"a"b\n', "Malformed CSV after line 10001"),
    ],
)
def test_a_file_broken_further_down_fails_before_storing_any_row(admin_user, tail, message):
    # The first lines are fine (the upload's check passes); the break is found by the full
    # check that runs before the import stores anything.
    head = "id,created_at,note\n" + "L-1,2026-01-01T00:00:00Z,a\n" * 10_000  # more than the upload's check reads
    data = head.encode() + tail.encode("latin-1" if "\xe9" in tail else "utf-8")
    up = upload_store(file=csv_file(data), kind=ImportKind.LEADS, delimiter=",", user=admin_user)
    upload_queue(upload=up, mapping=up.mapping, options={})
    assert upload_run(upload_id=up.pk) == ImportState.FAILED
    up.refresh_from_db()
    assert message in up.error and up.accepted == 0
    assert not Lead.objects.exists()


def test_an_oversized_file_is_refused(admin_client, settings):
    settings.IMPORT_MAX_BYTES = 100
    response = upload(admin_client, "id,created_at\n" + "L-1,2026-01-01T00:00:00Z\n" * 10)
    assert response.status_code == 400 and "the limit is 100" in response.content.decode()
    assert not ImportUpload.objects.exists()


# --- big files, crashes ------------------------------------------------------------------------------


def test_a_big_file_is_streamed_not_read_whole(admin_user, settings, tmp_path, scoring_calls):
    settings.IMPORT_BATCH_ROWS = 500
    path = tmp_path / "big.csv"
    rows = 12_000
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("id,created_at,email,note\n")
        for i in range(rows):
            fh.write(f"L-{i:06d},2026-01-01T00:00:00Z,l{i}@example.com,{'x' * 1500}\n")
    size = path.stat().st_size
    assert size > 18_000_000

    tracemalloc.start()
    try:
        with path.open("rb") as fh:
            up = upload_store(file=File(fh, name="big.csv"), kind=ImportKind.LEADS, delimiter=",", user=admin_user)
        _, store_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        upload_queue(upload=up, mapping=up.mapping, options={})
        assert upload_run(upload_id=up.pk) == ImportState.DONE
        _, run_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    up.refresh_from_db()
    assert (up.rows_total, up.rows_done, up.accepted) == (rows, rows, rows)
    assert Lead.objects.count() == rows
    # A batch of rows at a time, never the file: peaks far below its size.
    assert store_peak < size / 10, store_peak
    assert run_peak < size / 4, run_peak  # 500 rows of 1.5 kB, and their objects


def test_a_rerun_after_a_crash_resumes_after_the_last_committed_batch(admin_user, settings):
    add_lead("L-1")
    settings.IMPORT_BATCH_ROWS = 2
    text = "lead,kind,occurred_at\n" + "L-1,page_view,2026-05-01T10:00:00Z\n" * 5  # no ids: a redo would double
    up = upload_store(file=csv_file(text), kind=ImportKind.EVENTS, delimiter=",", user=admin_user)
    upload_queue(upload=up, mapping=up.mapping, options={})
    # Given a worker that died after its first batch committed (state running, 2 rows done)
    assert upload_check(upload=up) == 5
    from leads.services import events_ingest

    events_ingest(rows=[(2, {"lead": "L-1", "kind": "page_view", "occurred_at": "2026-05-01T10:00:00Z"})] * 2)
    ImportUpload.objects.filter(pk=up.pk).update(state=ImportState.RUNNING, rows_total=5, rows_done=2, accepted=2)
    # When the task is delivered again
    assert upload_run(upload_id=up.pk) == ImportState.DONE
    # Then the rows already stored are not stored twice
    assert Event.objects.count() == 5
    up.refresh_from_db()
    assert (up.rows_done, up.accepted) == (5, 5)
    # And a third delivery does nothing
    assert upload_run(upload_id=up.pk) == ImportState.DONE and Event.objects.count() == 5


def test_one_worker_at_a_time_and_lost_imports_are_sent_again(admin_user, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from imports.uploads import uploads_resend_stale

    add_lead("L-1")
    up = upload_store(
        file=csv_file("lead,kind,occurred_at\nL-1,x,2026-05-01T10:00:00Z\n"),
        kind="events",
        delimiter=",",
        user=admin_user,
    )
    upload_queue(upload=up, mapping=up.mapping, options={})
    # A second delivery while the first worker is alive (fresh heartbeat) leaves it alone.
    ImportUpload.objects.filter(pk=up.pk).update(state=ImportState.RUNNING, heartbeat_at=timezone.now())
    assert upload_run(upload_id=up.pk) == ImportState.RUNNING and not Event.objects.exists()
    # A worker silent for longer than IMPORT_STALE_SECONDS is presumed dead: the sweep resends its task.
    sent = []
    monkeypatch.setattr(tasks.import_upload, "apply_async", lambda args, **kw: sent.append(args[0]))
    assert uploads_resend_stale() == []
    ImportUpload.objects.filter(pk=up.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert uploads_resend_stale() == [up.pk] and sent == [up.pk]
    assert upload_run(upload_id=up.pk) == ImportState.DONE and Event.objects.count() == 1


def test_others_cannot_see_an_upload(client, admin_user, personas):
    up = upload_store(file=csv_file("id\nL-1\n"), kind=ImportKind.LEADS, delimiter=",", user=admin_user)
    other = personas["admin"].__class__.objects.create_user("importer")
    from django.contrib.auth.models import Permission

    other.user_permissions.set(Permission.objects.filter(codename__in=["add_lead", "change_lead"]))
    client.force_login(other)
    assert client.get(f"{START}{up.pk}/").status_code == 404
    assert client.get(START).status_code == 200


# --- real CRM exports (tests/fixtures/crm) -----------------------------------------------------------

PAGE_OPTIONS = {"date_format": "iso", "timezone": "UTC", "decimal": ".", "ranges": "lower", "missing_created": "reject"}


def import_on_the_page(client, monkeypatch, capture, name: str, kind: str, options: dict) -> tuple[ImportUpload, str]:
    """Upload a file with the delimiter left to detection, take the suggested mapping, preview with
    `options`, import; returns the finished upload and the preview page."""
    data = (CRM / name).read_bytes()
    response = client.post(START, {"kind": kind, "delimiter": "", "file": SimpleUploadedFile(name, data)})
    assert response.status_code == 302, response.content.decode()
    up = ImportUpload.objects.latest("id")
    form = {f"col_{i}": t for i, t in enumerate(up.mapping)} | PAGE_OPTIONS | {"owner_fallback": ""} | options
    preview = client.post(f"{START}{up.pk}/", form | {"action": "preview"}).content.decode()
    monkeypatch.setattr(tasks.import_upload, "apply_async", lambda args, **kw: None)
    with capture(execute=True):
        response = client.post(f"{START}{up.pk}/", form | {"action": "import"})
    assert response.status_code == 302, response.content.decode()
    with capture(execute=True):
        assert upload_run(upload_id=up.pk) == ImportState.DONE
    up.refresh_from_db()
    return up, preview


@pytest.mark.parametrize("name", ["hubspot-contacts.csv", "salesforce-leads.csv"])
def test_crm_exports_import_every_row_through_the_page(
    name, admin_client, personas, monkeypatch, django_capture_on_commit_callbacks
):
    # Given a HubSpot- or Salesforce-shaped export (BOM, its own delimiter, separators, currency,
    # ranges, US or EU dates, owners by full name) and the date order and zone of its users
    expected = EXPECTED[name]
    up, preview = import_on_the_page(
        admin_client, monkeypatch, django_capture_on_commit_callbacks, name, "leads", expected["options"]
    )
    # Then the delimiter was detected, every preview row is valid, the owner that matches no user
    # is listed with the choice, and every row is stored with its values read as the CRM meant them
    assert up.delimiter == (";" if name.startswith("salesforce") else ",")
    assert f"{len(expected['leads'])} valid" in preview
    (unmatched,) = expected["unmatched_owners"]
    assert "1 owner name in the file matches no user" in preview and f"<td>{unmatched}</td>" in preview
    assert (up.rows_total, up.accepted, up.rejected, up.errors) == (len(expected["leads"]),) * 2 + (0, [])
    stored = leads_stored()
    assert stored == expected["leads"]
    assert up.options["result"]["unmatched_owners"] == expected["unmatched_owners"]
    progress = admin_client.get(f"{START}{up.pk}/progress/").content.decode()
    assert "Owners that match no user" in progress and unmatched in progress and "left unassigned" in progress


def test_crm_activities_import_through_the_page(
    admin_client, personas, monkeypatch, django_capture_on_commit_callbacks
):
    leads = EXPECTED["salesforce-leads.csv"]
    import_on_the_page(
        admin_client, monkeypatch, django_capture_on_commit_callbacks, "salesforce-leads.csv", "leads", leads["options"]
    )
    expected = EXPECTED["salesforce-activities.csv"]
    up, _ = import_on_the_page(
        admin_client,
        monkeypatch,
        django_capture_on_commit_callbacks,
        "salesforce-activities.csv",
        "events",
        expected["options"],
    )
    assert (up.accepted, up.rejected) == (len(expected["events"]), 0)
    assert events_stored() == expected["events"]


def test_unmatched_owners_can_all_go_to_one_user(
    admin_client, personas, monkeypatch, django_capture_on_commit_callbacks
):
    # Given the HubSpot export, whose "Pat Former" is no user, imported with "assign them all to rep2"
    options = EXPECTED["hubspot-contacts.csv"]["options"] | {"owner_fallback": "rep2"}
    up, preview = import_on_the_page(
        admin_client, monkeypatch, django_capture_on_commit_callbacks, "hubspot-contacts.csv", "leads", options
    )
    # Then the preview said so and the lead went to rep2; the lead without an owner stays unassigned
    assert "Pat Former → rep2" in preview
    assert Lead.objects.get(external_id="104").owner.username == "rep2"
    assert Lead.objects.get(external_id="105").owner is None
    assert Lead.objects.get(external_id="101").owner.username == "rep"


def test_the_preview_shows_each_value_as_read_and_asks_for_the_date_order(admin_client, personas):
    response = upload(admin_client, (CRM / "hubspot-contacts.csv").read_bytes().decode("utf-8"), delimiter="")
    up = ImportUpload.objects.get()
    form = {f"col_{i}": t for i, t in enumerate(up.mapping)} | PAGE_OPTIONS
    # With ISO dates only, "8/8/2026" is refused with what to choose
    html = admin_client.post(f"{START}{up.pk}/", form | {"action": "preview"}).content.decode().replace("&#x27;", "'")
    assert response.status_code == 302
    assert "created_at: '8/8/2026' is not ISO 8601: choose the date format of the file" in html
    # With US dates and the New York zone, the row reads as the CRM meant it
    html = admin_client.post(
        f"{START}{up.pk}/", form | {"date_format": "us", "timezone": "America/New_York", "action": "preview"}
    ).content.decode()
    assert "created_at=2026-08-08T00:00:00-04:00" in html and "employees=10001" in html
    assert "owner=robin rep → rep2" in html and "owner=Pat Former → unassigned" in html
    # Ranges kept as text: the number stays empty and the preview notes it
    html = admin_client.post(
        f"{START}{up.pk}/", form | {"date_format": "us", "ranges": "text", "action": "preview"}
    ).content.decode()
    assert "employees: the range &#x27;51-200&#x27; is kept as text in attributes.employees_range" in html
    assert not Lead.objects.exists()


def test_the_import_page_is_in_the_navigation_of_those_who_may_import(client, personas):
    for username, linked in [("admin", True), ("rep", False), ("marketer", False), ("manager", False)]:
        client.force_login(personas[username])
        html = client.get("/").content.decode()
        assert ('href="/leads/import/"' in html) is linked, username
    importer = get_user_model().objects.create_user("ops")
    importer.user_permissions.set(Permission.objects.filter(codename="add_event"))
    client.force_login(importer)
    assert 'href="/leads/import/"' in client.get("/").content.decode()


# --- never a half-stored import -----------------------------------------------------------------------


def long_company_file(rows: int = 2500, bad_row: int = 2301) -> str:
    lines = ["id,created_at,company"]
    for i in range(1, rows + 1):
        company = "x" * 300 if i == bad_row else f"Company {i}"
        lines.append(f"L-{i:05d},2026-01-01T00:00:00Z,{company}")
    return "\n".join(lines) + "\n"


def test_a_row_too_long_for_its_column_is_refused_and_every_other_row_stored(
    admin_client, monkeypatch, django_capture_on_commit_callbacks
):
    # Given 2,500 rows (two batches) whose row 2,301 has a 300-character company, uploaded on the page
    assert upload(admin_client, long_company_file()).status_code == 302
    up = ImportUpload.objects.get()
    form = {f"col_{i}": t for i, t in enumerate(up.mapping)} | PAGE_OPTIONS
    monkeypatch.setattr(tasks.import_upload, "apply_async", lambda args, **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(f"{START}{up.pk}/", form | {"action": "import"}).status_code == 302
    # When the background import runs, then it ends done, with that one row refused by its line
    assert upload_run(upload_id=up.pk) == ImportState.DONE
    up.refresh_from_db()
    assert (up.rows_total, up.rows_done, up.accepted, up.rejected) == (2500, 2500, 2499, 1)
    ((line, reason),) = up.errors
    assert line == 2302 and reason.startswith("company:") and "200" in reason
    assert up.error == "" and Lead.objects.count() == 2499
    assert not Lead.objects.filter(external_id="L-02301").exists()
    progress = admin_client.get(f"{START}{up.pk}/progress/").content.decode()
    assert "Done" in progress and "2302" in progress and "company:" in progress
    # Counts read with thousands separators (a line number stays a plain number)
    assert "<td>2,500 of 2,500</td>" in progress and "<td>2,499 leads" in progress


def test_repeated_ids_count_once(admin_user, settings):
    settings.IMPORT_BATCH_ROWS = 2  # the repeat comes in the next batch
    text = "id,created_at,title\n" + "".join(
        f"{i},2026-01-01T00:00:00Z,{title}\n" for i, title in [("L-1", "CEO"), ("L-2", "CTO"), ("L-1", "CFO")]
    )
    up = upload_store(file=csv_file(text), kind=ImportKind.LEADS, user=admin_user)
    upload_queue(upload=up, mapping=up.mapping, options={})
    assert upload_run(upload_id=up.pk) == ImportState.DONE
    up.refresh_from_db()
    assert (up.accepted, up.duplicates, up.rejected) == (2, 1, 0)
    assert up.options["result"]["created"] == 2
    assert Lead.objects.get(external_id="L-1").title == "CFO"


def test_the_delimiter_is_detected_unless_chosen(admin_user):
    for text, delimiter in [("id;created_at\n", ";"), ("id\tcreated_at\n", "\t"), ("id,created_at\n", ",")]:
        up = upload_store(
            file=csv_file(text + "L-1" + delimiter + "2026-01-01T00:00:00Z\n"), kind="leads", user=admin_user
        )
        assert (up.delimiter, up.header) == (delimiter, ["id", "created_at"])


# --- uploads never imported --------------------------------------------------------------------------


def test_uploads_never_imported_are_deleted_after_a_day(admin_user, settings):
    from datetime import timedelta

    from django.utils import timezone

    from imports.tasks import uploads_purge_unimported_task

    # Given an upload left at the mapping step two days ago, a fresh one, and an old one imported
    old, fresh, queued = (
        upload_store(file=csv_file("id\nL-1\n"), kind=ImportKind.LEADS, user=admin_user) for _ in range(3)
    )
    upload_queue(upload=queued, mapping=["id"], options={"missing_created": "now"})
    two_days_ago = timezone.now() - timedelta(days=2)
    ImportUpload.objects.filter(pk__in=[old.pk, queued.pk]).update(created_at=two_days_ago)
    # When the periodic task runs
    assert uploads_purge_unimported_task.apply().get() == 1
    # Then only the old unimported upload is gone, file and row
    assert not ImportUpload.objects.filter(pk=old.pk).exists() and not upload_path(old).exists()
    assert upload_path(fresh).exists() and upload_path(queued).exists()
    assert set(ImportUpload.objects.values_list("pk", flat=True)) == {fresh.pk, queued.pk}
    # And beat runs it on the default queue
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == uploads_purge_unimported_task.name)
    assert entry["schedule"] <= 24 * 3600
    assert uploads_purge_unimported_task.name not in settings.CELERY_TASK_ROUTES  # -> CELERY_TASK_DEFAULT_QUEUE


def test_the_import_page_says_when_an_unconfirmed_upload_goes(admin_client, admin_user, settings):
    # Given an upload of the user's own, and uploads kept unconfirmed for 36 hours
    settings.IMPORT_UNUSED_HOURS = 36
    upload_store(file=csv_file("id\nL-1\n"), kind=ImportKind.LEADS, user=admin_user)
    # When the user opens the import page
    page = admin_client.get(START).content.decode()
    # Then the latest imports are listed with how long an unconfirmed one is kept
    assert "export.csv" in page
    assert "An upload whose columns are never confirmed is deleted after 36 hours." in page
