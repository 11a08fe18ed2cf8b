from django.urls import path

from . import views

app_name = "inbox"
urlpatterns = [
    path("", views.inbox_list, name="list"),
    path("badge/", views.inbox_badge_view, name="badge"),
    path("bulk/", views.bulk, name="bulk"),
    path("<int:pk>/", views.inbox_detail, name="detail"),
    path("<int:pk>/claim/", views.claim, name="claim"),
    path("<int:pk>/release/", views.release, name="release"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/comment/", views.comment, name="comment"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
]
