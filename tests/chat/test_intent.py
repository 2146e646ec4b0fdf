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


def test_held_out_accuracy_is_at_least_90_percent(intent_artifact):
    metrics = intent_artifact["metrics"]
    assert metrics["accuracy"] >= 0.90
    assert set(metrics["per_class_f1"]) == set(intent.INTENTS)
    assert all(f >= 0.8 for f in metrics["per_class_f1"].values()), metrics["per_class_f1"]
    assert sum(map(sum, metrics["confusion_matrix"]["matrix"])) == metrics["n_test"]


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
