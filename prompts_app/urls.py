from django.urls import path

from prompts_app import views

app_name = "prompts"
urlpatterns = [
    path("prompts/", views.index, name="index"),
    path("prompts/promote/", views.promote, name="promote"),
    path("prompts/versions/<int:pk>/", views.version_detail, name="version"),
    path("prompts/versions/<int:pk>/submit/", views.submit, name="submit"),
    path("prompts/versions/<int:pk>/approve/", views.approve, name="approve"),
    path("prompts/versions/<int:pk>/reject/", views.reject, name="reject"),
    path("prompts/versions/<int:pk>/evaluate/", views.evaluate, name="evaluate"),
    path("prompts/versions/<int:pk>/release/", views.release, name="release"),
    path("prompts/<slug:name>/", views.template_detail, name="template"),
]
