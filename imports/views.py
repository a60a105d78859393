"""The CSV import pages: upload a file, map its columns (with CRM presets), preview, import.

/leads/import/            upload (leads or events) and the latest imports
/leads/import/<id>/       column mapping and a dry-run preview of the first rows
/leads/import/<id>/progress/  the background import's progress and rejected rows

The work is in imports/uploads.py; these views only take the forms and show the results.
"""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from imports.choices import ImportKind, ImportState
from imports.crm_values import DATE_FORMATS, DECIMALS, DELIMITERS, RANGES, zone_names
from imports.models import ImportUpload
from imports.uploads import (
    EXTRA,
    PRESETS,
    SKIP,
    UploadError,
    extra_key,
    mapping_problems,
    suggest_mapping,
    targets_for,
    upload_owners,
    upload_preview,
    upload_queue,
    upload_store,
)

PERMISSIONS = {ImportKind.LEADS: ("leads.add_lead", "leads.change_lead"), ImportKind.EVENTS: ("leads.add_event",)}


def may_import(user, kind=None) -> bool:
    kinds = [kind] if kind else list(PERMISSIONS)
    return any(user.has_perms(PERMISSIONS[k]) for k in kinds)


class UploadForm(forms.Form):
    kind = forms.ChoiceField(choices=ImportKind.choices, widget=forms.RadioSelect, initial=ImportKind.LEADS)
    file = forms.FileField(help_text="A .csv file in UTF-8 (Excel: “CSV UTF-8”), with a header line.")
    delimiter = forms.ChoiceField(
        choices=[("", "Detect it"), *DELIMITERS.items()],
        initial="",
        required=False,
        help_text="Detected from the first lines unless you choose one.",
    )


class MappingForm(forms.Form):
    """One select per column of the file, plus how to read its values (imports/crm_values.py)."""

    preset = forms.ChoiceField(
        required=False,
        choices=[("auto", "Recognise any of these")] + [(k, label) for k, (label, _) in PRESETS.items()],
        initial="auto",
    )
    date_format = forms.ChoiceField(
        label="Dates such as 8/8/2026", choices=list(DATE_FORMATS.items()), initial="iso", required=False
    )
    timezone = forms.ChoiceField(
        label="Times without a UTC offset are in",
        required=False,
        initial="UTC",
        help_text="CRM exports usually write times in the exporting user's zone.",
    )
    decimal = forms.ChoiceField(
        label="Numbers are written", choices=list(DECIMALS.items()), initial=".", required=False
    )
    ranges = forms.ChoiceField(
        label="Ranges such as 51-200", choices=list(RANGES.items()), initial="lower", required=False
    )
    owner_fallback = forms.ChoiceField(
        label="Leads whose owner matches no user", required=False, initial="", choices=[("", "Leave them unassigned")]
    )
    missing_created = forms.ChoiceField(
        label="Leads without created_at",
        choices=[("reject", "Reject the row"), ("now", "Use the time of the upload")],
        initial="reject",
    )

    def __init__(self, *args, upload: ImportUpload, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload = upload
        nested = "attributes" if upload.kind == ImportKind.LEADS else "properties"
        self.fields["timezone"].choices = [("", "Refuse them (as the spec says)")] + [(z, z) for z in zone_names()]
        if upload.kind == ImportKind.EVENTS:
            for name in ("missing_created", "preset", "decimal", "ranges", "owner_fallback"):
                del self.fields[name]
        else:
            users = get_user_model().objects.filter(is_active=True).order_by("username")
            self.fields["owner_fallback"].choices = [("", "Leave them unassigned")] + [
                (u.username, f"Assign them all to {u.get_full_name() or u.username} ({u.username})") for u in users
            ]
        for i, column in enumerate(upload.header):
            key = column.split(".", 1)[1] if column.startswith(nested + ".") else extra_key(column)
            choices = [(t, t) for t in targets_for(upload.kind)]
            choices += [(EXTRA, f"{nested}.{key}"), (SKIP, "— skip —")]
            self.fields[f"col_{i}"] = forms.ChoiceField(label=column, choices=choices)

    def columns(self):
        return [self[f"col_{i}"] for i in range(len(self.upload.header))]

    def mapping(self) -> list[str]:
        return [self.cleaned_data[f"col_{i}"] for i in range(len(self.upload.header))]

    OPTIONS = ("date_format", "timezone", "decimal", "ranges", "missing_created", "owner_fallback")

    def option_fields(self):
        return [self[name] for name in self.OPTIONS if name in self.fields]

    def options(self) -> dict:
        # A select left out of the form takes the default (ImportOptions); an empty time zone
        # and an empty fallback owner are choices of their own (refuse; leave unassigned).
        keep_empty = ("timezone", "owner_fallback")
        data = self.cleaned_data
        return {k: data[k] for k in self.OPTIONS if k in data and (data[k] or k in keep_empty)}


def _upload_for(request, pk: int) -> ImportUpload:
    uploads = ImportUpload.objects.all()
    if not request.user.is_superuser:
        uploads = uploads.filter(created_by=request.user)
    upload = get_object_or_404(uploads, pk=pk)
    if not may_import(request.user, upload.kind):
        raise PermissionDenied
    return upload


@require_http_methods(["GET", "POST"])
def import_start(request):
    if not may_import(request.user):
        raise PermissionDenied
    form = UploadForm(request.POST or None, request.FILES or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        if not may_import(request.user, kind):
            raise PermissionDenied
        try:
            upload = upload_store(
                file=form.cleaned_data["file"],
                kind=kind,
                delimiter=form.cleaned_data["delimiter"] or "",
                user=request.user,
            )
        except UploadError as exc:
            error = str(exc)
        else:
            return redirect("imports:mapping", pk=upload.pk)
    recent = ImportUpload.objects.filter(created_by=request.user).order_by("-created_at", "-id")[:10]
    status = 400 if error or form.errors else 200
    return render(
        request,
        "leads/import.html",
        {"form": form, "error": error, "recent": recent, "unused_hours": settings.IMPORT_UNUSED_HOURS},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def import_mapping(request, pk: int):
    upload = _upload_for(request, pk)
    if upload.state != ImportState.UPLOADED:
        return redirect("imports:progress", pk=upload.pk)
    initial = {f"col_{i}": t for i, t in enumerate(upload.mapping or suggest_mapping(upload.kind, upload.header))}
    data = request.POST if request.method == "POST" else None
    if data is not None and data.get("action") == "preset":
        # Re-suggest every column from the chosen preset, keep the options as given.
        preset = data.get("preset", "auto")
        suggested = suggest_mapping(upload.kind, upload.header, preset)
        data = data.copy()
        for i, target in enumerate(suggested):
            data[f"col_{i}"] = target
    form = MappingForm(data, upload=upload, initial=initial)
    error = ""
    if data is None:
        form = MappingForm({**_defaults(form), **initial}, upload=upload)
    preview, problems, owners = [], [], None
    if form.is_valid():
        mapping, options = form.mapping(), form.options()
        problems = mapping_problems(upload.kind, mapping, options)
        if request.method == "POST" and request.POST.get("action") == "import" and not problems:
            try:
                upload_queue(upload=upload, mapping=mapping, options=options)
            except UploadError as exc:
                error = str(exc)
            else:
                return redirect("imports:progress", pk=upload.pk)
        preview = upload_preview(upload=upload, mapping=mapping, options=options)
        owners = upload_owners(upload=upload, mapping=mapping)
    context = {
        "upload": upload,
        "form": form,
        "preview": preview,
        "owners": owners,
        "problems": problems,
        "error": error,
        "preview_ok": sum(1 for r in preview if not r["error"]),
    }
    return render(request, "leads/import_mapping.html", context, status=400 if error else 200)


def _defaults(form: forms.Form) -> dict:
    return {name: field.initial for name, field in form.fields.items() if field.initial is not None}


def import_progress(request, pk: int):
    upload = _upload_for(request, pk)
    running = upload.state in (ImportState.QUEUED, ImportState.RUNNING)
    options = upload.options or {}
    context = {"upload": upload, "refresh": running, "options": options, "result": options.get("result") or {}}
    return render(request, "leads/import_progress.html", context)
