from django.urls import path

from crm import views

app_name = "crm"
urlpatterns = [
    path("", views.home, name="home"),
    path("marketing/", views.marketing_home, name="marketing_home"),
    path("leads/", views.lead_list, name="lead_list"),
    path("leads/csv/", views.lead_export, name="lead_export"),
    path("leads/<int:lead_id>/", views.lead_detail, name="lead_detail"),
    path("healthz/", views.healthz, name="healthz"),
]
