"""Sales' decisions on a lead under one scoring model: accept, reject, recycle.

Views (htmx or plain POST) and the API call these services; nothing else writes these moves.
The stages move only along these edges (docs/rep-workspace.md):

    mql -> sql                     lead_accept    (sales takes it)
    mql -> rejected                lead_reject    (with a RejectReason; OTHER needs a text)
    mql | sql | rejected -> recycled   lead_recycle   (back to marketing's nurturing)

The rescore (services.leads_rescore) owns the remaining edge, lead | recycled -> mql, when a
score crosses its segment's MQL line upwards. Each move here locks the lead's stage row
(SELECT ... FOR UPDATE) inside one transaction, checks the move from the stage it finds there,
and records a StageTransition with who and when: two reps clicking at once make one move and
one clear error, never two transitions.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from leads.models import Lead
from leads.selectors import user_sees_all_leads
from matrix.models import ScoringModel
from scoring.choices import RejectReason, Stage
from scoring.models import LeadStage, Score, StageTransition
from scoring.webhooks import webhooks_dispatch

ACT_PERMISSION = "leads.act_on_leads"
TEXT_MAX = 500
# The stages each move starts from (the edges above).
MOVES_FROM = {
    "accept": (Stage.MQL,),
    "reject": (Stage.MQL,),
    "recycle": (Stage.MQL, Stage.SQL, Stage.REJECTED),
}


class LifecycleError(ValueError):
    """A move the lead's current stage does not allow, or a rejection without a valid reason."""


def lead_act_allowed(*, user, lead: Lead) -> bool:
    """Whether `user` may accept, reject or recycle `lead`: reps their own leads, managers and admins any."""
    if not user.is_authenticated or not user.has_perm(ACT_PERMISSION):
        return False
    return user_sees_all_leads(user=user) or lead.owner_id == user.pk


def lead_accept(*, lead: Lead, scoring_model: ScoringModel, user) -> LeadStage:
    """Accept an MQL as sales-qualified (MQL -> SQL)."""
    return _move(lead=lead, scoring_model=scoring_model, user=user, to=Stage.SQL, verb="accept")


def lead_reject(*, lead: Lead, scoring_model: ScoringModel, user, reason: str, text: str = "") -> LeadStage:
    """Reject an MQL with a reason (a RejectReason value); OTHER needs a text saying why."""
    text = (text or "").strip()
    if reason not in RejectReason.values:
        choices = ", ".join(RejectReason.values)
        raise LifecycleError(f"unknown reject reason {reason!r}: use one of {choices}")
    if reason == RejectReason.OTHER and not text:
        raise LifecycleError("a rejection for another reason needs a text saying why")
    if len(text) > TEXT_MAX:
        raise LifecycleError(f"the text is longer than {TEXT_MAX} characters")
    return _move(
        lead=lead,
        scoring_model=scoring_model,
        user=user,
        to=Stage.REJECTED,
        verb="reject",
        reason=reason,
        text=text,
    )


def lead_recycle(*, lead: Lead, scoring_model: ScoringModel, user) -> LeadStage:
    """Send a lead back to nurturing (stage RECYCLED): an MQL not ready yet, a lost SQL, a rejection."""
    return _move(lead=lead, scoring_model=scoring_model, user=user, to=Stage.RECYCLED, verb="recycle")


WEBHOOK_OF_STAGE = {Stage.SQL: "accepted", Stage.REJECTED: "rejected"}


def _move(
    *,
    lead: Lead,
    scoring_model: ScoringModel,
    user,
    to: str,
    verb: str,
    reason: str = "",
    text: str = "",
) -> LeadStage:
    with transaction.atomic():
        # The lock first: the stage and the owner read below are the ones this move acts on.
        stage = LeadStage.objects.select_for_update().filter(lead_id=lead.pk, scoring_model_id=scoring_model.pk).first()
        owner_id = Lead.objects.filter(pk=lead.pk).values_list("owner_id", flat=True).first()
        lead.owner_id = owner_id
        if not lead_act_allowed(user=user, lead=lead):
            raise PermissionDenied(f"you may not {verb} lead {lead.external_id}: it is not yours")
        current = stage.stage if stage is not None else Stage.LEAD
        if current not in MOVES_FROM[verb]:
            raise LifecycleError(_refusal(lead, scoring_model, verb, current))
        score = (
            Score.objects.filter(lead_id=lead.pk, scoring_model_id=scoring_model.pk)
            .values("score", "version_id")
            .first()
        ) or {"score": None, "version_id": None}
        now = timezone.now()
        stage.stage = to
        stage.changed_by = user
        stage.changed_at = now
        fields = ["stage", "changed_by", "changed_at"]
        if to == Stage.SQL:
            stage.accepted_at = now
            fields.append("accepted_at")
        elif to == Stage.REJECTED:
            stage.rejected_at, stage.reject_reason, stage.reject_text = now, reason, text
            fields += ["rejected_at", "reject_reason", "reject_text"]
        stage.save(update_fields=fields)
        StageTransition.objects.create(
            lead_id=lead.pk,
            scoring_model_id=scoring_model.pk,
            from_stage=current,
            to_stage=to,
            score=score["score"],
            version_id=score["version_id"],
            reason=reason,
            reason_text=text,
            actor=user,
            occurred_at=now,
        )
        if to in WEBHOOK_OF_STAGE:
            # In the transaction: the delivery rows exist exactly when the move does, sent on commit.
            webhooks_dispatch(
                event_type=WEBHOOK_OF_STAGE[to],
                payload={
                    "lead": lead.external_id,
                    "model": scoring_model.slug,
                    "from": current,
                    "to": to,
                    "reason": reason,
                    "reason_text": text,
                    "score": None if score["score"] is None else float(score["score"]),
                    "by": getattr(user, "username", None),
                    "at": now,
                },
            )
    return stage


def moves_from(stage: str) -> set[str]:
    """The moves a lead at `stage` allows: a subset of accept, reject, recycle."""
    return {verb for verb, starts in MOVES_FROM.items() if stage in starts}


def _refusal(lead: Lead, scoring_model: ScoringModel, verb: str, current: str) -> str:
    stages = " or ".join(Stage(s).label for s in MOVES_FROM[verb])
    done = {"accept": "accepted", "reject": "rejected", "recycle": "recycled"}[verb]
    return (
        f"cannot {verb} lead {lead.external_id} under {scoring_model.name}: it is at stage "
        f"{Stage(current).label}, and only a lead at stage {stages} can be {done}"
    )
