from django.urls import path

from guardrails import views

app_name = "guardrails"
urlpatterns = [
    path("guardrails/", views.dashboard, name="dashboard"),
    path("guardrails/events/<int:event_id>/review/", views.review, name="review"),
]
