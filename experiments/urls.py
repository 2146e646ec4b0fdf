from django.urls import path

from experiments import views

app_name = "experiments"
urlpatterns = [
    path("experiments/", views.index, name="index"),
    path("experiments/new/", views.create, name="create"),
    path("experiments/<int:pk>/", views.detail, name="detail"),
    path("experiments/<int:pk>/results.json", views.results, name="results"),
    path("experiments/<int:pk>/action/", views.action, name="action"),
]
