"""Sales' moves on a lead (scoring/lifecycle.py): accept, reject, recycle.

Given leads scored through the real services (the rescore makes L-HOT, L-MEGA and L-OTHER MQLs),
when a rep, a manager or an editor makes a move, then the stage row changes and a
StageTransition records who and when, or the move is refused with a clear reason.
"""

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections, connection

from scoring.choices import RejectReason, Stage
from scoring.lifecycle import LifecycleError, lead_accept, lead_act_allowed, lead_recycle, lead_reject, moves_from
from scoring.models import LeadStage, Score, StageTransition
from tests.leads.workspace_data import workspace_build


@pytest.fixture
def ws(db, personas):
    return workspace_build(rep=personas["rep"], rep2=personas["rep2"])


def stage_of(ws, xid):
    return LeadStage.objects.get(lead=ws.leads[xid], scoring_model=ws.scoring_model)


def test_accept_moves_an_mql_to_sql_and_records_who_and_when(ws, rep):
    # Given L-HOT, an MQL of the rep
    hot = ws.leads["L-HOT"]
    assert stage_of(ws, "L-HOT").stage == Stage.MQL

    # When the rep accepts it
    stage = lead_accept(lead=hot, scoring_model=ws.scoring_model, user=rep)

    # Then it is an SQL, and the move is on record with the score and version it had
    assert stage.stage == Stage.SQL
    stored = stage_of(ws, "L-HOT")
    assert (stored.stage, stored.changed_by, stored.accepted_at is not None) == (Stage.SQL, rep, True)
    move = StageTransition.objects.get(lead=hot, to_stage=Stage.SQL)
    score = Score.objects.get(lead=hot, scoring_model=ws.scoring_model)
    assert (move.from_stage, move.actor, move.score, move.version_id) == (Stage.MQL, rep, score.score, score.version_id)
    assert move.occurred_at == stored.changed_at


def test_accepting_a_lead_that_is_not_an_mql_is_refused_with_the_reason(ws, rep):
    # Given L-WARM, which never became an MQL
    # When the rep accepts it, then the move is refused and nothing is recorded
    with pytest.raises(LifecycleError, match=r"cannot accept lead L-WARM under New business: it is at stage Lead"):
        lead_accept(lead=ws.leads["L-WARM"], scoring_model=ws.scoring_model, user=rep)
    assert not StageTransition.objects.filter(lead=ws.leads["L-WARM"]).exclude(to_stage=Stage.MQL).exists()


def test_accepting_twice_is_refused_the_second_time(ws, rep):
    lead_accept(lead=ws.leads["L-HOT"], scoring_model=ws.scoring_model, user=rep)
    with pytest.raises(LifecycleError, match="it is at stage SQL, and only a lead at stage MQL can be accepted"):
        lead_accept(lead=ws.leads["L-HOT"], scoring_model=ws.scoring_model, user=rep)
    assert StageTransition.objects.filter(lead=ws.leads["L-HOT"], to_stage=Stage.SQL).count() == 1


def test_reject_records_the_reason_and_the_text(ws, rep):
    # When the rep rejects an MQL as not ready
    lead_reject(
        lead=ws.leads["L-MEGA"], scoring_model=ws.scoring_model, user=rep, reason=RejectReason.NOT_READY, text=" Q3 "
    )
    # Then the stage is rejected with the reason; the transition carries it too
    stage = stage_of(ws, "L-MEGA")
    assert (stage.stage, stage.reject_reason, stage.reject_text) == (Stage.REJECTED, "not_ready", "Q3")
    move = StageTransition.objects.get(lead=ws.leads["L-MEGA"], to_stage=Stage.REJECTED)
    assert (move.reason, move.reason_text, move.actor) == ("not_ready", "Q3", rep)


@pytest.mark.parametrize(
    ("reason", "text", "message"),
    [
        ("other", "", "a rejection for another reason needs a text saying why"),
        ("other", "   ", "a rejection for another reason needs a text saying why"),
        ("bored", "", "unknown reject reason 'bored'"),
        ("wrong_fit", "x" * 501, "longer than 500 characters"),
    ],
)
def test_reject_needs_a_valid_reason_and_a_text_for_other(ws, rep, reason, text, message):
    with pytest.raises(LifecycleError, match=message):
        lead_reject(lead=ws.leads["L-MEGA"], scoring_model=ws.scoring_model, user=rep, reason=reason, text=text)
    assert stage_of(ws, "L-MEGA").stage == Stage.MQL


def test_reject_other_with_a_text_is_accepted(ws, rep):
    lead_reject(lead=ws.leads["L-MEGA"], scoring_model=ws.scoring_model, user=rep, reason="other", text="Competitor")
    assert stage_of(ws, "L-MEGA").reject_text == "Competitor"


@pytest.mark.parametrize("before", ["mql", "sql", "rejected"])
def test_recycle_sends_mqls_sqls_and_rejections_back_to_nurturing(ws, rep, before):
    # Given L-HOT at the stage `before`
    hot, model = ws.leads["L-HOT"], ws.scoring_model
    if before == "sql":
        lead_accept(lead=hot, scoring_model=model, user=rep)
    elif before == "rejected":
        lead_reject(lead=hot, scoring_model=model, user=rep, reason="no_budget")
    # When the rep recycles it, then it is recycled, from that stage
    assert lead_recycle(lead=hot, scoring_model=model, user=rep).stage == Stage.RECYCLED
    move = StageTransition.objects.filter(lead=hot, to_stage=Stage.RECYCLED).get()
    assert move.from_stage == before


def test_recycling_a_lead_that_never_was_an_mql_is_refused(ws, rep):
    with pytest.raises(LifecycleError, match="only a lead at stage MQL or SQL or Rejected can be recycled"):
        lead_recycle(lead=ws.leads["L-WARM"], scoring_model=ws.scoring_model, user=rep)


def test_moves_from_each_stage():
    assert moves_from(Stage.MQL) == {"accept", "reject", "recycle"}
    assert moves_from(Stage.SQL) == moves_from(Stage.REJECTED) == {"recycle"}
    assert moves_from(Stage.LEAD) == moves_from(Stage.RECYCLED) == set()


# --- who may act ----------------------------------------------------------------------------------


def test_a_rep_may_not_act_on_another_reps_lead(ws, rep):
    # Given L-OTHER, an MQL of rep2
    other = ws.leads["L-OTHER"]
    assert not lead_act_allowed(user=rep, lead=other)
    # When rep accepts it, then it is refused and the lead stays an MQL
    with pytest.raises(PermissionDenied, match="not yours"):
        lead_accept(lead=other, scoring_model=ws.scoring_model, user=rep)
    assert stage_of(ws, "L-OTHER").stage == Stage.MQL


def test_a_manager_and_an_admin_may_act_on_any_lead(ws, manager, admin_user):
    lead_accept(lead=ws.leads["L-OTHER"], scoring_model=ws.scoring_model, user=manager)
    lead_recycle(lead=ws.leads["L-OTHER"], scoring_model=ws.scoring_model, user=admin_user)
    moves = StageTransition.objects.filter(lead=ws.leads["L-OTHER"]).exclude(to_stage=Stage.MQL)
    assert [(m.to_stage, m.actor) for m in moves.order_by("id")] == [(Stage.SQL, manager), (Stage.RECYCLED, admin_user)]


def test_an_editor_may_not_act_on_leads(ws, marketer):
    with pytest.raises(PermissionDenied):
        lead_accept(lead=ws.leads["L-HOT"], scoring_model=ws.scoring_model, user=marketer)


def test_the_owner_is_read_at_the_time_of_the_move(ws, rep, personas):
    # Given a stale lead object that still says rep owns L-HOT, while it was reassigned to rep2
    hot = ws.leads["L-HOT"]
    type(hot).objects.filter(pk=hot.pk).update(owner=personas["rep2"])
    # When rep accepts it, then it is refused: the lead is no longer theirs
    with pytest.raises(PermissionDenied):
        lead_accept(lead=hot, scoring_model=ws.scoring_model, user=rep)


# --- two at once ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_accepts_at_once_make_one_move_and_one_refusal(personas):
    """The stage row lock (SELECT ... FOR UPDATE) serializes them: the second sees SQL and is refused."""
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks between connections: the test database of SQLite is one shared in-memory file")
    ws = workspace_build(rep=personas["rep"], rep2=personas["rep2"])
    hot, model = ws.leads["L-HOT"], ws.scoring_model
    barrier = threading.Barrier(2)
    outcomes = []

    def accept(user):
        try:
            barrier.wait(timeout=10)
            lead_accept(lead=hot, scoring_model=model, user=user)
            outcomes.append("ok")
        except LifecycleError:
            outcomes.append("refused")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=accept, args=(u,)) for u in (personas["rep"], personas["manager"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["ok", "refused"]
    assert StageTransition.objects.filter(lead=hot, to_stage=Stage.SQL).count() == 1
