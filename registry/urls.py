from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("releases/production/", views.production, name="production"),
    path("releases/rollback/", views.rollback, name="rollback"),
]
urlpatterns += [
    path("releases/flags/", views.flags, name="flags"),
    path("releases/flags/<slug:name>/", views.flag_toggle, name="flag_toggle"),
]
