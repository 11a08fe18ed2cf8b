from django.urls import path

from . import views

app_name = "runs"
urlpatterns = [
    path("", views.run_list, name="home"),
    path("runs/", views.run_list, name="list"),
    path("runs/<int:pk>/", views.run_detail, name="detail"),
]
