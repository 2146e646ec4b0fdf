from django.urls import path

from experiments import api

urlpatterns = [path("", api.EventCreate.as_view(), name="api_events")]
