"""The Celery app. Workers and beat start with ``celery -A mangaconsole worker|beat``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mangaconsole.settings")

app = Celery("mangaconsole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The registry's rollout layer keeps its tasks in a sub-package (issue 17), which autodiscovery's
# ``<app>.tasks`` lookup does not reach.
app.autodiscover_tasks(["registry.rollout"])
