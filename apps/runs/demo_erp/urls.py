from django.urls import path

from . import views

app_name = "demo_erp"
urlpatterns = [
    path("invoices", views.invoice_create, name="invoice-create"),
    path("health", views.health, name="health"),
]
