"""The intent classifier: the dataset, held-out accuracy, artifacts, registration."""

import json

import pytest
from django.conf import settings
from django.core.management import call_command

from chat import intent
from registry.models import AliasEvent, ComponentVersion


def test_the_dataset_is_large_and_covers_every_intent():
    texts, labels, digest = intent.load_dataset(settings.DATA_DIR / "intents.jsonl")
    assert len(texts) >= 2000
    assert set(labels) == set(intent.INTENTS)
    rows = [json.loads(line) for line in (settings.DATA_DIR / "intents.jsonl").read_text().splitlines()]
    tags = {t for r in rows for t in r["tags"]}
    assert {"typo", "short", "multi_intent", "japanese_title"} <= tags
    assert len(digest) == 64


def test_held_out_accuracy_on_unseen_templates_is_at_least_90_percent(intent_artifact):
    """The 90% of seed US-2.2's gate, on templates the model never trained on (issue 18 item 2); per class at
    least 0.6 (order tracking is the weakest at 0.65: see chat/intent.py)."""
    metrics = intent_artifact["metrics"]
    assert metrics["split"] == "by template (GroupShuffleSplit)"
    assert metrics["template_overlap"] == 0.0
    assert metrics["accuracy"] >= 0.90
    assert set(metrics["per_class_f1"]) == set(intent.INTENTS)
    assert all(f >= 0.6 for f in metrics["per_class_f1"].values()), metrics["per_class_f1"]
    assert sum(map(sum, metrics["confusion_matrix"]["matrix"])) == metrics["n_test"]


def test_the_hold_out_shares_no_template_with_training_where_a_random_split_shares_half():
    """Issue 18 item 2: the utterances are generated from templates; a random split tests on
    templates it trained on (about half of its held-out items), the template split on none."""
    texts, labels, _ = intent.load_dataset(settings.DATA_DIR / "intents.jsonl")
    x_train, x_test, _, y_test = intent.split(texts, labels, test_size=0.2, seed=13, by="template")
    assert intent.template_overlap(x_train, x_test) == 0.0
    assert set(y_test) == set(intent.INTENTS)
    assert len(x_test) >= 0.15 * len(texts)
    r_train, r_test, _, _ = intent.split(texts, labels, test_size=0.2, seed=13, by="random")
    assert intent.template_overlap(r_train, r_test) >= 0.3


def test_the_template_key_masks_titles_their_aliases_typos_and_numbers():
    key = intent.template_key
    assert (
        key("Where is my Frieren vol 3?")
        == key("where is my Kaguya-sama: Love Is War vol. 12")
        == "where is my <t> vol <n>"
    )
    assert key("is Shingeki no Kyojin better than Vinland Saga") == "is <t> better than <t>"
    assert key("recommend something like Frieeren") == "recommend something like <t>"  # a typo of a title word
    assert key("do you ship to Canada?") != key("do you ship to Japan?")  # not a title: the template differs


def test_a_tampered_artifact_is_refused(intent_artifact, tmp_path):
    copy = tmp_path / "m.pkl"
    copy.write_bytes(intent_artifact["path"].read_bytes() + b"x")
    with pytest.raises(ValueError, match="checksum"):
        intent.load(str(copy), intent_artifact["sha256"])


def test_a_bad_dataset_line_is_named(tmp_path):
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"text": "hi", "intent": "chitchat"}\n{"text": "x", "intent": "sing"}\n')
    with pytest.raises(ValueError, match=r"d.jsonl:2: unknown intent 'sing'"):
        intent.load_dataset(bad)


def test_training_twice_registers_version_2_and_promote_goes_through_the_pipeline(
    serving, golden_small, settings, tmp_path, capsys, django_capture_on_commit_callbacks
):
    from registry.models import Deployment
    from registry.rollout.deployments import deployment_run_inline

    settings.ARTIFACT_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=False):  # the chain runs in process below
        call_command("train_intent", "--promote")
    out = capsys.readouterr().out
    assert "release 2 entered the deployment pipeline" in out
    assert [e.to_release.number for e in AliasEvent.objects.filter(alias="production")] == [1]
    deployment = Deployment.objects.get()
    assert deployment.origin == {"kind": "retrain", "version": "intent_classifier:v2"}
    with django_capture_on_commit_callbacks(execute=True):
        deployment_run_inline(deployment.pk, approver="mleng")
    v2 = ComponentVersion.objects.get(component__kind="intent_classifier", version=2)
    assert v2.metrics["accuracy"] >= 0.9
    assert v2.artifact_sha256
    assert v2.dataset_hash
    assert "registered intent_classifier:v2" in out
    assert [e.to_release.number for e in AliasEvent.objects.filter(alias="production").order_by("at")] == [1, 2]
