from django.urls import path

from evaluation import views
from evaluation.annotation import views as annotate

app_name = "evaluation"
urlpatterns = [
    path("evaluation/", views.index, name="index"),
    path("evaluation/thresholds/", views.thresholds, name="thresholds"),
    path("evaluation/runs/new/", views.run_new, name="run_new"),
    path("evaluation/runs/<int:pk>/", views.run_detail, name="run"),
    path("evaluation/runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
    path("evaluation/runs/<int:pk>/report.md", views.run_report, name="run_report"),
    path("annotate/", annotate.annotate, name="annotate"),
    path("annotate/<int:task_id>/skip/", annotate.annotate_skip, name="annotate_skip"),
    path("annotate/<int:task_id>/renew/", annotate.annotate_renew, name="annotate_renew"),
    path("annotate/batches/", annotate.batches, name="batches"),
    path("annotate/batches/new/", annotate.batch_new, name="batch_new"),
    path("annotate/batches/from-traces/", annotate.batch_from_traces, name="batch_from_traces"),
    path("annotate/batches/<int:pk>/", annotate.batch_detail, name="batch"),
    path("annotate/batches/<int:pk>/progress/", annotate.batch_progress, name="batch_progress"),
    path("annotate/batches/<int:pk>/scores.csv", annotate.batch_scores, name="batch_scores"),
    path("annotate/batches/<int:pk>/close/", annotate.batch_close, name="batch_close"),
    path("annotate/batches/<int:pk>/golden/", annotate.batch_golden, name="batch_golden"),
    path("annotate/batches/<int:pk>/training/", annotate.batch_training, name="batch_training"),
    path("annotate/batches/<int:pk>/items/<int:item_id>/adjudicate/", annotate.item_adjudicate, name="item_adjudicate"),
    path("annotate/trends/", annotate.trends, name="annotation_trends"),
    path("annotate/trends/gate/", annotate.gate_adopt, name="gate_adopt"),
    path("annotate/training.jsonl", annotate.training_export, name="training_export"),
]
