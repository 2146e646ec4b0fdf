"""The product manager's experiment form lists every problem at once and validates region codes."""

from experiments.models import Experiment
from mangaconsole.roles import Role
from tests.factories import candidate_release, make_user


def test_every_problem_is_listed_at_once_and_nothing_is_saved(client, serving):
    candidate = candidate_release(actor="m")
    client.force_login(make_user("pm-form", Role.PRODUCT_MANAGER))
    form = {
        "name": "",
        "hypothesis": "",
        "control_weight": "60",
        "arm1_release": str(candidate.number),
        "arm1_weight": "50",
        "enrolled_percent": "100",
        "regions": "U S, xx, jp",
        "primary_metric": "thumbs_up",
        "alpha": "0.05",
        "planned_days": "14",
    }
    page = client.post("/experiments/new/", form).content.decode()
    assert "Name: This field is required." in page
    assert "Hypothesis: This field is required." in page
    assert "The weights must add up to 100 (they add up to 110)." in page
    assert "Unknown region codes [&#x27;U S&#x27;, &#x27;XX&#x27;]" in page
    assert not Experiment.objects.exists()
    form.update(name="ok", hypothesis="h", arm1_weight="40", regions="JP, us")
    assert client.post("/experiments/new/", form).status_code == 302
    assert Experiment.objects.get().targeting["regions"] == ["JP", "US"]
