"""The simulator drives sessions through the real assignment and events; a large harm on escalation
stops the experiment before its sessions run out, and a true lift reaches significance."""

import pytest
from django.core.management import call_command

from experiments.management.simulation import parse_effects, simulate
from experiments.models import Experiment, Exposure, Metric
from experiments.services import experiment_start
from tests.experiments.test_experiments import _experiment


def test_a_large_harm_on_escalation_stops_the_experiment_early(serving, settings, django_capture_on_commit_callbacks):
    settings.EXPERIMENT_MIN_UNITS_PER_ARM = 500
    experiment = _experiment(guardrail_metrics=[Metric.ESCALATION])
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment, actor="pm")
    done = simulate(experiment, sessions=8000, effects={"escalation": 3.0}, seed=7, check_every=250)
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.STOPPED
    assert done["sessions"] < 8000  # stopped itself before the planned traffic ran out
    assert "guardrail harm" in experiment.stop_reason
    assert "escalation in arm short" in experiment.stop_reason
    assert experiment.decision["harms"][0]["effect"] > 1.0  # 5% → ~20%: a +300% relative rise
    assert Exposure.objects.filter(experiment=experiment).count() == done["sessions"]


def test_a_true_lift_reaches_significance_through_the_command(serving, settings, django_capture_on_commit_callbacks):
    settings.EXPERIMENT_MIN_UNITS_PER_ARM = 500
    experiment = _experiment()
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment, actor="pm")
    from io import StringIO

    out = StringIO()
    call_command(
        "simulate_traffic", experiment=experiment.pk, sessions=12000, effect=["thumbs_up=0.10"], seed=3, stdout=out
    )
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.STOPPED, out.getvalue()[-2000:]
    assert experiment.decision["winners"] == ["short"]
    assert '"verdict": "significant"' in out.getvalue().splitlines()[-1]


def test_effects_are_parsed_with_clear_errors():
    assert parse_effects(["thumbs_up=0.10", "escalation=2"]) == {"thumbs_up": 0.1, "escalation": 2.0}
    with pytest.raises(ValueError, match="names one of"):
        parse_effects(["happiness=1"])
    with pytest.raises(ValueError, match="is a number"):
        parse_effects(["thumbs_up=lots"])
