"""/escalations/: the address of the first escalation list, kept working for old links."""

from django.urls import path
from django.views.generic import RedirectView

app_name = "escalations"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox:list", query_string=True), name="list"),
]
