from django.urls import path, re_path

from matrix import views, views_edit, views_workshop

# The root URLconf adds scoring.urls.model_urlpatterns (the model list and page, publish, the
# impact preview: pages that show scores) to this namespace.
app_name = "matrix"
# /<slug>/draft/<number>/<criteria|decay|segments>/ ...; keys are slugs (engine.document.SLUG_RE).
DRAFT_ITEMS = r"(?P<slug>[-a-zA-Z0-9_]+)/draft/(?P<number>[0-9]+)/(?P<section>criteria|decay|segments)/"

urlpatterns = [
    path("<slug:slug>/history/", views.model_history, name="history"),
    path("<slug:slug>/versions/<int:number>/approve/", views.version_approve, name="approve"),
    path("<slug:slug>/versions/<int:number>/restore/", views.version_restore, name="restore"),
    # The draft editor (matrix/views_edit.py): GET opens a row's form, POST saves (htmx or plain).
    path("<slug:slug>/draft/", views_edit.draft_editor, name="draft"),
    path("<slug:slug>/draft/start/", views_edit.draft_start, name="draft-start"),
    path("<slug:slug>/draft/<int:number>/settings/", views_edit.settings_form, name="draft-settings"),
    path("<slug:slug>/draft/<int:number>/settings/save/", views_edit.settings_save, name="draft-settings-save"),
    re_path(rf"^{DRAFT_ITEMS}add/$", views_edit.item_form, name="draft-add-form"),
    re_path(rf"^{DRAFT_ITEMS}add/save/$", views_edit.item_save, name="draft-add"),
    re_path(rf"^{DRAFT_ITEMS}(?P<key>[-a-zA-Z0-9_]+)/edit/$", views_edit.item_form, name="draft-item-form"),
    re_path(rf"^{DRAFT_ITEMS}(?P<key>[-a-zA-Z0-9_]+)/save/$", views_edit.item_save, name="draft-item"),
    re_path(rf"^{DRAFT_ITEMS}(?P<key>[-a-zA-Z0-9_]+)/delete/$", views_edit.item_delete, name="draft-delete"),
    re_path(rf"^{DRAFT_ITEMS}(?P<key>[-a-zA-Z0-9_]+)/move/$", views_edit.item_move, name="draft-move"),
    # The workshop's scenario simulator (matrix/views_workshop.py).
    path("<slug:slug>/scenarios/", views_workshop.scenarios, name="scenarios"),
    path("<slug:slug>/scenarios/<int:pk>/", views_workshop.scenario_edit, name="scenario-edit"),
    path("<slug:slug>/scenarios/<int:pk>/delete/", views_workshop.scenario_delete, name="scenario-delete"),
]
