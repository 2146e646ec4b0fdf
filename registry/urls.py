from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("releases/production/", views.production, name="production"),
    path("releases/rollback/", views.rollback, name="rollback"),
]
