"""Fixtures of the human-evaluation tests: annotators, a quality lead, metrics computed inline."""

from __future__ import annotations

import pytest

from mangaconsole.roles import Role
from tests.factories import make_user


@pytest.fixture
def inline_metrics(settings):
    settings.ANNOTATION_METRICS_INLINE = True


@pytest.fixture
def annotators(db):
    return [make_user(f"ann{i}", Role.ANNOTATOR) for i in range(3)]


@pytest.fixture
def lead(db):
    return make_user("lead", Role.QUALITY_LEAD)
