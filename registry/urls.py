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
    path("releases/deployments/<int:pk>/retry/", views.deployment_retry_view, name="deployment_retry"),
    path("releases/deployments/<int:pk>/approve/", views.deployment_approve_view, name="deployment_approve"),
    path("releases/deployments/<int:pk>/decline/", views.deployment_decline_view, name="deployment_decline"),
    path("releases/canary/", views.canary, name="canary"),
    path("releases/canary/start/", views.canary_start_view, name="canary_start"),
    path("releases/canary/step/", views.canary_step_view, name="canary_step"),
    path("releases/canary/promote/", views.canary_promote_view, name="canary_promote"),
    path("releases/canary/stop/", views.canary_stop_view, name="canary_stop"),
]
