from django.urls import path

from . import views

app_name = "escalations"
urlpatterns = [
    path("", views.escalation_list, name="list"),
]
