from django.urls import path

from . import views

app_name = "discovery"
urlpatterns = [
    path("", views.map_list, name="list"),
    path("new/", views.map_create, name="map_create"),
    path("runs/", views.workflow_runs_pick, name="workflow_runs_pick"),
    path("runs/<slug:workflow_slug>/", views.workflow_runs, name="workflow_runs"),
    path("<slug:slug>/", views.map_detail, name="map"),
    path("<slug:slug>/edit/", views.map_edit, name="map_edit"),
    path("<slug:slug>/cases/", views.map_cases, name="map_cases"),
    path("<slug:slug>/observations/", views.observation_list, name="observations"),
    path(
        "<slug:slug>/observations/<int:pk>/edit/",
        views.observation_edit,
        name="observation_edit",
    ),
    path(
        "<slug:slug>/observations/<int:pk>/delete/",
        views.observation_remove,
        name="observation_delete",
    ),
    path("<slug:slug>/logs/new/", views.log_upload, name="log_upload"),
    path("<slug:slug>/logs/<int:log_id>/", views.log_detail, name="log"),
    path("<slug:slug>/logs/<int:log_id>/columns/", views.log_mapping, name="log_mapping"),
    path("<slug:slug>/logs/<int:log_id>/retry/", views.log_retry, name="log_retry"),
    path("<slug:slug>/logs/<int:log_id>/delete/", views.log_delete, name="log_delete"),
    path(
        "<slug:slug>/logs/<int:log_id>/export.<str:fmt>",
        views.log_export,
        name="log_export",
    ),
    path("<slug:slug>/conformance/", views.conformance_page, name="conformance"),
    path("<slug:slug>/conformance/accept/", views.deviation_toggle, name="deviation_toggle"),
    path("<slug:slug>/conformance/cases.csv", views.conformance_cases, name="conformance_cases"),
]
