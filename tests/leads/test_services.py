"""lead_upsert: one lead written whole or in part, by the rules the API's writes answer with."""

import pytest
from django.contrib.auth import get_user_model

from leads.models import Lead
from leads.services import LeadExists, LeadRefused, lead_upsert

CREATED = "2026-01-02T09:00:00Z"


def body(external_id="L-1", **fields) -> dict:
    return {"id": external_id, "created_at": CREATED, **fields}


@pytest.fixture
def rep(db):
    return get_user_model().objects.create_user("rep")


def test_a_new_lead_is_created_and_its_id_then_refused_for_another_create(db):
    # Given no lead, when one is created
    lead, created = lead_upsert(data=body(company="Acme"))
    # then it is stored, and new
    assert created and (lead.external_id, lead.company) == ("L-1", "Acme")
    # When a second create names the same id, then it is refused naming that id
    with pytest.raises(LeadExists) as refused:
        lead_upsert(data=body(company="Globex"))
    assert refused.value.external_id == "L-1"
    assert Lead.objects.get().company == "Acme"


def test_an_upsert_replaces_the_whole_lead_and_keeps_its_owner(rep):
    # Given a lead owned by a rep, with a company and a title
    Lead.objects.create(external_id="L-1", created_at=CREATED, company="Acme", title="VP", owner=rep)
    # When it is upserted by id with another company, no title, and an owner in the body
    lead, created = lead_upsert(
        data={"created_at": CREATED, "company": "Globex", "owner": "admin"}, external_id="L-1", ignored={"owner"}
    )
    # Then the fields not given are cleared, and the owner is the stored one
    assert not created
    assert (lead.company, lead.title, lead.owner) == ("Globex", "", rep)


def test_a_partial_write_changes_only_the_keys_given(rep):
    # Given a lead with a company, a title and attributes
    Lead.objects.create(
        external_id="L-1", created_at=CREATED, company="Acme", title="VP", attributes={"plan": "pro"}, owner=rep
    )
    # When only the title is written
    lead, _ = lead_upsert(data={"title": "CEO"}, external_id="L-1", partial=True)
    # Then the rest is as it was
    assert (lead.company, lead.title, lead.attributes, lead.owner) == ("Acme", "CEO", {"plan": "pro"}, rep)


def test_a_partial_write_needs_a_stored_lead(db):
    with pytest.raises(Lead.DoesNotExist):
        lead_upsert(data={"title": "CEO"}, external_id="L-404", partial=True)
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "data, external_id, errors",
    [
        (["L-1"], None, ["body: must be a JSON object"]),
        (body(compnay="Acme", zz=1), None, ["compnay: unknown field", "zz: unknown field"]),
        (body("L-2"), "L-1", ["id: 'L-2' differs from the id in the URL 'L-1'"]),
        (
            body(employees="many", created_at=None),
            None,
            ["created_at: required, an ISO 8601 timestamp with offset", "employees: 'many' is not a number"],
        ),
    ],
)
def test_a_body_that_breaks_the_rules_is_refused_with_one_line_per_problem(db, data, external_id, errors):
    with pytest.raises(LeadRefused) as refused:
        lead_upsert(data=data, external_id=external_id)
    assert refused.value.errors == errors
    assert not Lead.objects.exists()
