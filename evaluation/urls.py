from django.urls import path

from evaluation import views

app_name = "evaluation"
urlpatterns = [
    path("evaluation/", views.index, name="index"),
    path("evaluation/thresholds/", views.thresholds, name="thresholds"),
    path("evaluation/runs/new/", views.run_new, name="run_new"),
    path("evaluation/runs/<int:pk>/", views.run_detail, name="run"),
    path("evaluation/runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
    path("evaluation/runs/<int:pk>/report.md", views.run_report, name="run_report"),
]
