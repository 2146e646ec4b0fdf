from django.urls import path

from evaluation import api

urlpatterns = [
    path("runs/", api.EvalRunCreate.as_view(), name="api_eval_runs"),
    path("runs/<int:pk>/", api.EvalRunDetail.as_view(), name="api_eval_run"),
]
