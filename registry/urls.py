from django.urls import path

from registry.rollout import views

app_name = "registry"
urlpatterns = [
    path("releases/production/", views.production, name="production"),
    path("releases/rollback/", views.rollback, name="rollback"),
]
urlpatterns += [
    path("releases/flags/", views.flags, name="flags"),
    path("releases/flags/<str:name>/", views.flag_toggle, name="flag_toggle"),
]
urlpatterns += [
    path("releases/deployments/", views.deployments, name="deployments"),
    path("releases/deployments/start/", views.deployment_start_view, name="deployment_start"),
    path("releases/deployments/<int:pk>/", views.deployment, name="deployment"),
    path("releases/deployments/<int:pk>/progress/", views.deployment_progress, name="deployment_progress"),
    path("releases/deployments/<int:pk>/decide/", views.deployment_decide, name="deployment_decide"),
    path("releases/canary/", views.canary, name="canary"),
    path("releases/canary/action/", views.canary_action, name="canary_action"),
]
