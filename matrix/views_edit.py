"""The draft editor (docs/matrix-workspace.md): a draft's criteria, decay rules, segments and
settings edited in place, one row at a time.

Every write builds the whole new document with matrix.drafts and saves it through
services.model_draft_update with the revision the editor saw, so it is validated whole, bumps the
revision (approvals of the old one stop counting) and is audited. htmx requests get the editor
fragment back (every form in it then carries the new revision); plain posts are redirected
back, or get the page again when there is something to show (errors, a stale save).
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from engine.conditions import describe
from engine.document import DocumentError
from matrix import drafts, services
from matrix.choices import VersionStatus
from matrix.forms import ITEM_FORMS, SettingsForm, plain, split_errors
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import (
    approvals_status,
    condition_suggestions,
    draft_edits_since,
    version_live,
    version_spec,
    workspace_settings,
)
from matrix.views import can_of
from matrix.wording import criterion_row, decay_rule_words

EDIT = "matrix.edit_draft"
HEADINGS = {"criteria": "Criteria", "decay": "Decay rules", "segments": "Segments and thresholds"}


# --- reading -----------------------------------------------------------------------------------


def _newest_draft(scoring_model: ScoringModel) -> ModelVersion | None:
    return (
        scoring_model.versions.filter(status=VersionStatus.DRAFT)
        .select_related("updated_by")
        .prefetch_related("approvals__user")
        .order_by("-number")
        .first()
    )


def _draft(slug: str, number: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related("scoring_model", "updated_by").prefetch_related("approvals__user"),
        scoring_model__slug=slug,
        number=number,
    )


def _revision(request) -> int | None:
    try:
        return int(request.POST.get("revision") or request.GET.get("revision") or "")
    except ValueError:
        return None


def _auto_id(section: str, key: str | None) -> str:
    # Several forms may be open on one page: their field ids must not collide.
    return f"{section}-{key or 'new'}-%s"


def _rows(spec, section: str) -> list[dict]:
    if section == "criteria":
        return [{"key": c.key, "label": c.label, **criterion_row(c)} for c in spec.criteria]
    if section == "decay":
        return [{"key": d.key, "label": d.label, "words": decay_rule_words(d)} for d in spec.decay]
    return [
        {
            "key": s.key,
            "label": s.label,
            "segment": s,
            "condition": describe(s.when) if s.when else "every other lead",
        }
        for s in spec.segments
    ]


def _editor_context(draft: ModelVersion, *, opened=None, notice=None, stale=None, saved=None, user=None) -> dict:
    """What the editor fragment needs. `opened` is the form shown open: {"section", "key" (None
    for a new row), "form", "revision"}; "settings" is a section too. `saved` is the write just
    made, confirmed next to what it changed: {"section", "key" (None: the section itself, e.g.
    after a removal), "message"}."""
    spec = version_spec(version=draft)
    sections = []
    for section in drafts.SECTIONS:
        rows = _rows(spec, section)
        for i, row in enumerate(rows):
            row.update(first=i == 0, last=i == len(rows) - 1)
        found = opened is not None and opened["section"] == section and any(r["key"] == opened["key"] for r in rows)
        sections.append(
            {
                "name": section,
                "heading": HEADINGS[section],
                "noun": drafts.NOUNS[section],
                "rows": rows,
                # A row being edited that is gone (removed or renamed by someone else): its form
                # is shown below the list, so the editor's input is not lost.
                "orphan": opened is not None
                and opened["section"] == section
                and opened["key"] is not None
                and not found,
            }
        )
    return {
        "scoring_model": draft.scoring_model,
        "draft": draft,
        "spec": spec,
        "sections": sections,
        "opened": opened,
        "notice": notice,
        "stale": stale,
        "saved": saved,
        "can": can_of(user) if user is not None else {},
        "status": approvals_status(version=draft, settings=workspace_settings()),
        "suggestions": condition_suggestions(spec=spec),
    }


def _render_editor(request, draft, *, status=200, **kwargs):
    context = _editor_context(draft, user=request.user, **kwargs)
    if request.htmx:
        # Whatever asked (a row's form, a button), the answer is the whole editor: every form in
        # it then carries the draft's current revision.
        response = render(request, "matrix/draft/_editor.html", context, status=status)
        return reswap(retarget(response, "#draft-editor"), "outerHTML")
    return render(request, "matrix/draft_editor.html", context, status=status)


@require_GET
@permission_required(EDIT, raise_exception=True)
def draft_editor(request, slug):
    """The newest draft in the editor (`?edit=section:key`, `?add=section`, `?settings=1` open a form
    without JavaScript), or the offer to start one from the live version."""
    scoring_model = get_object_or_404(ScoringModel, slug=slug)
    draft = _newest_draft(scoring_model)
    if draft is None:
        live = version_live(scoring_model=scoring_model)
        return render(request, "matrix/draft_editor.html", {"scoring_model": scoring_model, "live": live})
    draft.scoring_model = scoring_model
    opened = None
    if "edit" in request.GET:
        section, _, key = request.GET["edit"].partition(":")
        if section in drafts.SECTIONS:
            opened = _item_opened(draft, section, key)
    elif request.GET.get("add") in drafts.SECTIONS:
        section = request.GET["add"]
        form = ITEM_FORMS[section](auto_id=_auto_id(section, None))
        opened = {"section": section, "key": None, "form": form, "revision": draft.revision}
    elif "settings" in request.GET:
        opened = _settings_opened(draft)
    saved = None
    if "saved" in request.GET:
        # After a plain (non-htmx) save: the redirect names what was saved, confirmed in place.
        section, _, key = request.GET["saved"].partition(":")
        if section in (*drafts.SECTIONS, "settings"):
            saved = {"section": section, "key": key or None, "message": f"Saved in revision {draft.revision}."}
    return _render_editor(request, draft, opened=opened, saved=saved)


def _item_opened(draft, section, key, revision=None) -> dict | None:
    try:
        item = draft.document[section][drafts.item_index(draft.document, section=section, key=key)]
    except drafts.MissingItem:
        return None
    form = ITEM_FORMS[section](item=item, auto_id=_auto_id(section, key))
    return {"section": section, "key": key, "form": form, "revision": revision or draft.revision}


def _settings_opened(draft, revision=None) -> dict:
    form = SettingsForm(item=draft.document, auto_id=_auto_id("settings", None))
    return {"section": "settings", "key": None, "form": form, "revision": revision or draft.revision}


@require_POST
@permission_required(EDIT, raise_exception=True)
def draft_start(request, slug):
    scoring_model = get_object_or_404(ScoringModel, slug=slug)
    try:
        draft = services.model_draft_start(scoring_model=scoring_model, user=request.user)
    except (services.DraftError, DocumentError) as exc:
        messages.error(request, str(exc))
        return redirect("matrix:detail", slug=slug)
    messages.success(request, f"Draft version {draft.number} is open for editing.")
    return redirect("matrix:draft", slug=slug)


# --- the open forms (GET) ------------------------------------------------------------------------


def _editor_url(slug: str, **query) -> str:
    url = reverse("matrix:draft", args=[slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@require_GET
@permission_required(EDIT, raise_exception=True)
def item_form(request, slug, number, section, key=None):
    """The form of one row (or of a new one, without `key`), swapped in place of the row."""
    draft = _draft(slug, number)
    if not request.htmx:
        return redirect(_editor_url(slug, **({"edit": f"{section}:{key}"} if key else {"add": section})))
    revision = _revision(request) or draft.revision
    if key is None:
        form = ITEM_FORMS[section](auto_id=_auto_id(section, None))
        opened = {"section": section, "key": None, "form": form, "revision": revision}
    else:
        opened = _item_opened(draft, section, key, revision)
        if opened is None:
            return _render_editor(
                request, draft, status=409, notice=f"There is no {drafts.NOUNS[section]} {key} any more."
            )
    context = {
        "scoring_model": draft.scoring_model,
        "draft": draft,
        "opened": opened,
        "sec": {"name": section, "noun": drafts.NOUNS[section]},
        "row": {"key": key} if key else None,
    }
    return render(request, "matrix/draft/_open_form.html", context)


@require_GET
@permission_required(EDIT, raise_exception=True)
def settings_form(request, slug, number):
    draft = _draft(slug, number)
    if not request.htmx:
        return redirect(_editor_url(slug, settings=1))
    opened = _settings_opened(draft, _revision(request) or draft.revision)
    context = {"scoring_model": draft.scoring_model, "draft": draft, "opened": opened, "sec": {"name": "settings"}}
    return render(request, "matrix/draft/_open_form.html", context)


# --- the writes (POST) ---------------------------------------------------------------------------


def _stale(draft: ModelVersion, revision: int) -> dict:
    """Who changed the draft since `revision`, when, and what (the lines each edit recorded)."""
    return {"seen": revision, "edits": draft_edits_since(version=draft, revision=revision)}


def _save(request, draft, *, revision, build, where: tuple[str, str | None], locate=None, opened=None, done: str):
    """Save `build(document)` (the new document) as the draft's next revision, if the draft is
    still at `revision`. `locate(document)` names the edited row's JSON path ("criteria[2]"), to
    put the validator's errors next to the open form's fields.

    Answers with the editor: on success closed, with `done` confirmed next to what changed
    (`where`: the section and the row's key, None for the section itself) and kept in view; on
    a refused save with the open form (`opened`) showing the errors by field, or the stale
    explanation.
    """
    if draft.revision != revision:
        return _refuse_stale(request, draft, revision, opened)
    base = ""
    try:
        base = locate(draft.document) if locate else ""
        document = build(draft.document)
        draft = services.model_draft_update(version=draft, data=document, user=request.user, revision=revision)
    except services.StaleRevision:
        draft.refresh_from_db()
        return _refuse_stale(request, draft, revision, opened)
    except DocumentError as exc:
        if opened is None:
            return _refused(request, draft, "Not saved: " + "; ".join(plain(m) for _, m in split_errors(exc.errors)))
        opened["form"].add_document_errors(exc.errors, base=base)
        return _render_editor(request, draft, status=422, opened=opened, notice="Not saved: see the errors below.")
    except (services.DraftError, drafts.MissingItem) as exc:
        return _refused(request, draft, f"Not saved: {exc}.")
    section, key = where
    if request.htmx:
        message = f"{done} Revision {draft.revision} saved; approvals of earlier revisions no longer count."
        draft = _draft(draft.scoring_model.slug, draft.number)
        return _render_editor(request, draft, saved={"section": section, "key": key, "message": message})
    # A plain post: back to the editor, scrolled to the row, which says it was saved.
    url = _editor_url(draft.scoring_model.slug, saved=f"{section}:{key or ''}")
    return redirect(f"{url}#{_anchor(section, key)}")


def _anchor(section: str, key: str | None) -> str:
    """The id of what a save changed on the page (templates/matrix/draft/_row.html, _section.html)."""
    if section == "settings":
        return "draft-settings"
    return f"{section}-row-{key}" if key else f"draft-{section}"


def _refused(request, draft, message: str):
    if request.htmx:
        return _render_editor(request, _draft(draft.scoring_model.slug, draft.number), status=409, notice=message)
    messages.error(request, message)
    return redirect("matrix:draft", slug=draft.scoring_model.slug)


def _refuse_stale(request, draft, revision: int, opened):
    """Nothing is saved. The editor comes back at the current revision with the explanation on
    top and the refused form still open with what was typed, now carrying the current revision:
    saving it again is a decision taken after reading what changed, never a silent overwrite."""
    draft = _draft(draft.scoring_model.slug, draft.number)
    if opened is not None:
        opened["revision"] = draft.revision
    return _render_editor(request, draft, status=409, opened=opened, stale=_stale(draft, revision))


def draft_write(view):
    """A write to draft `number` of model `slug`: an editor's POST, carrying the revision the editor
    saw (400 without it). The view is called as view(request, draft, revision, **the URL's rest)."""

    @require_POST
    @permission_required(EDIT, raise_exception=True)
    @wraps(view)
    def write(request, slug, number, **kwargs):
        draft = _draft(slug, number)
        revision = _revision(request)
        if revision is None:
            return HttpResponseBadRequest("The form lacks the draft revision it was made on.")
        return view(request, draft, revision, **kwargs)

    return write


@draft_write
def item_save(request, draft, revision, section, key=None):
    """Save one row (`key`) or add a new one (no key)."""
    form = ITEM_FORMS[section](request.POST, auto_id=_auto_id(section, key))
    opened = {"section": section, "key": key, "form": form, "revision": revision}
    if not form.is_valid():
        return _render_editor(request, draft, status=422, opened=opened, notice="Not saved: see the errors below.")
    item = form.to_item()

    def locate(document):
        if key is None:
            return f"{section}[{drafts.add_position(document, section=section, item=item)}]"
        return f"{section}[{drafts.item_index(document, section=section, key=key)}]"

    def build(document):
        if key is None:
            return drafts.item_add(document, section=section, item=item)
        return drafts.item_replace(document, section=section, key=key, item=item)

    noun = drafts.NOUNS[section].capitalize()
    done = f"{noun} {item['key']} added." if key is None else f"{noun} {item['key']} saved."
    return _save(
        request,
        draft,
        revision=revision,
        build=build,
        where=(section, item["key"]),
        locate=locate,
        opened=opened,
        done=done,
    )


@draft_write
def item_delete(request, draft, revision, section, key):
    def build(document):
        return drafts.item_remove(document, section=section, key=key)

    done = f"{drafts.NOUNS[section].capitalize()} {key} removed."
    return _save(request, draft, revision=revision, build=build, where=(section, None), done=done)


@draft_write
def item_move(request, draft, revision, section, key):
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("direction is up or down")

    def build(document):
        offset = -1 if direction == "up" else 1
        return drafts.item_move(document, section=section, key=key, offset=offset)

    done = f"{drafts.NOUNS[section].capitalize()} {key} moved {direction}."
    return _save(request, draft, revision=revision, build=build, where=(section, key), done=done)


@draft_write
def settings_save(request, draft, revision):
    form = SettingsForm(request.POST, auto_id=_auto_id("settings", None))
    opened = {"section": "settings", "key": None, "form": form, "revision": revision}
    if not form.is_valid():
        return _render_editor(request, draft, status=422, opened=opened, notice="Not saved: see the errors below.")

    def build(document):
        return drafts.settings_change(document, settings=form.to_settings())

    return _save(
        request,
        draft,
        revision=revision,
        build=build,
        where=("settings", None),
        opened=opened,
        done="Model settings saved.",
    )
