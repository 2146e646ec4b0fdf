"""mangaconsole.lib.getters.get_for_user: the permission-checked lookup every view uses for an id."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from experiments.models import Experiment
from mangaconsole.lib.getters import get_for_user
from mangaconsole.roles import Role


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_it_checks_the_permission_bounds_the_id_and_names_what_is_missing(db, personas):
    pm, annotator = _request(personas[Role.PRODUCT_MANAGER]), _request(personas[Role.ANNOTATOR])
    experiment = Experiment.objects.create(name="e", hypothesis="h", salt="s", created_by="pm")
    assert get_for_user(pm, Experiment, permission="experiments.view_experiment", pk=experiment.pk) == experiment
    with pytest.raises(PermissionDenied, match="experiments.view_experiment"):
        get_for_user(annotator, Experiment, permission="experiments.view_experiment", pk=experiment.pk)
    for bad in (experiment.pk + 1, 0, -1, 2**63, "12abc", None):
        with pytest.raises(Http404, match="No such experiment"):
            get_for_user(pm, Experiment, permission="experiments.view_experiment", pk=bad)
    # extra lookups narrow it (an item must belong to the batch in the URL)
    with pytest.raises(Http404):
        get_for_user(pm, Experiment, permission="experiments.view_experiment", pk=experiment.pk, name="other")
