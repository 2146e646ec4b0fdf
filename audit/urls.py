from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("export/", views.export_page, name="export"),
    path("export/preview/", views.export_preview, name="export_preview"),
    path("export/download.<str:fmt>", views.export_download, name="export_download"),
]
