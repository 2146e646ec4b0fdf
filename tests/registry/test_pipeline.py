"""The deployment pipeline (US-1.2) and its targets: stages persisted with their logs, a failed stage
stops the chain with its reason, finished stages do not re-run, a person approves the promotion, and
AWS targets (SageMaker blue/green, Bedrock) are driven through boto3 with botocore's Stubber."""

import datetime

import boto3
import pytest
from botocore.stub import Stubber
from django.core.cache import cache

from audit.models import AuditAction, AuditEntry
from evaluation.models import GoldenDataset
from registry.models import AliasName, ComponentKind, Deployment, DeploymentStage
from registry.rollout.deployments import deployment_approve, deployment_cancel, deployment_start, stage_run
from registry.rollout.targets import BedrockTarget, DeploymentError, SageMakerTarget
from registry.selectors import release_for_alias
from registry.services import component_version_register, release_create
from tests.factories import candidate_release

AUTOMATIC = ["build", "evaluate", "staging", "smoke"]


@pytest.fixture
def pipeline_env(settings, serving, golden_small):
    settings.DEPLOY_AWS_BACKOFF_S = 0.01
    settings.DEPLOY_SAGEMAKER_POLL_S = 0.01
    settings.DEPLOY_SMOKE_QUERIES = ["do you ship to Canada?", "how much is Berserk Vol. 1?", "hi there!"]
    return serving


def _candidate(note="candidate", **generator):
    config = generator or {"provider": "local", "model_id": "local-grounded-responder", "max_tokens": 400}
    return candidate_release(config=config, notes=note, gated=False)


def _statuses(deployment):
    return dict(DeploymentStage.objects.filter(deployment=deployment).values_list("name", "status"))


def _start(release, capture, **kw):
    with capture(execute=False):  # the chain is run by hand here, stage by stage
        return deployment_start(release=release, actor="mleng", **kw)


def test_a_release_goes_through_every_stage_and_a_person_promotes_it(pipeline_env, django_capture_on_commit_callbacks):
    first = release_for_alias("production")
    release = _candidate()
    deployment = _start(release, django_capture_on_commit_callbacks)
    assert _statuses(deployment) == dict.fromkeys([*AUTOMATIC, "approve", "promote"], "pending")
    for name in AUTOMATIC:
        with django_capture_on_commit_callbacks(execute=True):
            assert stage_run(deployment.pk, name) == "passed", DeploymentStage.objects.get(name=name).log
    deployment.refresh_from_db()
    assert deployment.state == Deployment.State.WAITING
    assert _statuses(deployment)["approve"] == "waiting"
    assert release_for_alias("staging").pk == release.pk
    assert release_for_alias("production").pk == first.pk  # nothing reaches production without a person
    logs = {s.name: s.log for s in deployment.stages.all()}
    assert "artifact" in logs["build"]
    assert "verified" in logs["build"]
    assert "PASS" in logs["evaluate"]
    assert deployment.eval_run.gate_passed
    assert "'do you ship to Canada?' → faq" in logs["smoke"]
    # a finished stage re-run (a duplicate Celery delivery) does nothing
    assert stage_run(deployment.pk, "smoke") == "passed"
    assert DeploymentStage.objects.get(deployment=deployment, name="smoke").log == logs["smoke"]

    with django_capture_on_commit_callbacks(execute=False):
        deployment_approve(deployment=deployment, actor="oncall")
    with pytest.raises(DeploymentError, match="not waiting for approval"):
        deployment_approve(deployment=deployment, actor="oncall")  # the double click
    with django_capture_on_commit_callbacks(execute=True):
        assert stage_run(deployment.pk, "promote") == "passed"
    deployment.refresh_from_db()
    assert deployment.state == Deployment.State.PROMOTED
    assert deployment.approved_by == "oncall"
    assert release_for_alias("production").pk == release.pk
    entries = AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT, target_id=str(deployment.pk))
    assert entries.count() == 1 + len(AUTOMATIC) + 1 + 1  # start, four stages, approval, promotion
    move = AuditEntry.objects.filter(action=AuditAction.ALIAS_MOVE, target_id="production").order_by("sequence").last()
    assert move.actor == "oncall"
    assert move.after == {"release": release.number}


def test_a_failed_stage_stops_the_chain_with_its_reason(pipeline_env, django_capture_on_commit_callbacks):
    release = _candidate()
    deployment = _start(release, django_capture_on_commit_callbacks)
    GoldenDataset.objects.update(thresholds={"intent_accuracy_min": 1.01})  # a gate nobody can pass
    assert stage_run(deployment.pk, "build") == "passed"
    assert stage_run(deployment.pk, "evaluate") == "failed"
    for name in ("staging", "smoke", "promote"):
        assert stage_run(deployment.pk, name) == "skipped"  # later stages never run
    deployment.refresh_from_db()
    assert deployment.state == Deployment.State.FAILED
    assert deployment.failure.startswith("Offline evaluation gate: evaluation run")
    assert "Intent accuracy" in deployment.failure
    assert release_for_alias("staging") is None or release_for_alias("staging").pk != release.pk
    log = DeploymentStage.objects.get(deployment=deployment, name="evaluate").log
    assert "FAIL Intent accuracy" in log
    assert "FAILED:" in log


def test_a_tampered_artifact_fails_the_build_and_declining_keeps_production(
    pipeline_env, django_capture_on_commit_callbacks, intent_artifact, tmp_path
):
    fake = tmp_path / "intent.pkl"
    fake.write_bytes(b"not the trained model")
    version = component_version_register(
        kind=ComponentKind.INTENT_CLASSIFIER,
        actor="mleng",
        framework="sklearn",
        artifact_uri=str(fake),
        artifact_sha256=intent_artifact["sha256"],
    )
    bad = release_create(actor="mleng", versions=[version], based_on=release_for_alias("production"))
    deployment = _start(bad, django_capture_on_commit_callbacks)
    assert stage_run(deployment.pk, "build") == "failed"
    deployment.refresh_from_db()
    assert "is not the registered" in deployment.failure

    good = _start(_candidate(), django_capture_on_commit_callbacks)
    for name in AUTOMATIC:
        with django_capture_on_commit_callbacks(execute=True):
            stage_run(good.pk, name)
    with pytest.raises(DeploymentError, match="say why"):
        deployment_cancel(deployment=good, actor="oncall", reason="")
    deployment_cancel(deployment=good, actor="oncall", reason="not on a Friday")
    good.refresh_from_db()
    assert good.state == Deployment.State.CANCELLED
    assert _statuses(good)["promote"] == "skipped"
    assert stage_run(good.pk, "promote") == "skipped"


def test_one_release_cannot_be_in_the_pipeline_twice(pipeline_env, django_capture_on_commit_callbacks):
    release = _candidate()
    _start(release, django_capture_on_commit_callbacks)
    with pytest.raises(DeploymentError, match="already in the pipeline"):
        _start(release, django_capture_on_commit_callbacks)
    with pytest.raises(DeploymentError, match="already serves production"):
        _start(release_for_alias("production"), django_capture_on_commit_callbacks)


# ----------------------------------------------------------------------------- AWS targets
def _endpoint(status="InService", weights=(1.0, 0.0)):
    now = datetime.datetime(2026, 11, 24, tzinfo=datetime.UTC)
    return {
        "EndpointName": "intent-ep",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/intent-ep",
        "EndpointConfigName": "intent-ep-config",
        "EndpointStatus": status,
        "CreationTime": now,
        "LastModifiedTime": now,
        "ProductionVariants": [
            {"VariantName": "blue", "CurrentWeight": weights[0], "DesiredWeight": weights[0]},
            {"VariantName": "green", "CurrentWeight": weights[1], "DesiredWeight": weights[1]},
        ],
    }


SHIFT_TO_GREEN = {
    "EndpointName": "intent-ep",
    "DesiredWeightsAndCapacities": [
        {"VariantName": "green", "DesiredWeight": 1.0},
        {"VariantName": "blue", "DesiredWeight": 0.0},
    ],
}


def _sagemaker():
    return boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _sagemaker_release():
    version = component_version_register(
        kind=ComponentKind.RERANKER,
        actor="mleng",
        framework="cross-encoder on SageMaker",
        hosting_target="sagemaker",
        config={"endpoint_name": "intent-ep", "w_cosine": 1.0, "k": 3},
    )
    return release_create(actor="mleng", versions=[version], based_on=release_for_alias("production"))


def test_sagemaker_blue_green_shift_retries_a_throttle_and_a_failed_update_leaves_the_alias(
    pipeline_env, django_capture_on_commit_callbacks
):
    client = _sagemaker()
    release = _sagemaker_release()
    deployment = _start(release, django_capture_on_commit_callbacks, clients={"sagemaker": client})
    assert deployment.targets == ["local (in-process runtime)", "sagemaker:intent-ep"]
    for name in ("build", "evaluate"):
        stage_run(deployment.pk, name, clients={"sagemaker": client})
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", _endpoint(), {"EndpointName": "intent-ep"})
        with django_capture_on_commit_callbacks(execute=True):
            assert stage_run(deployment.pk, "staging", clients={"sagemaker": client}) == "passed"
        stub.assert_no_pending_responses()
    assert "live variant blue, idle variant green" in DeploymentStage.objects.get(name="staging").log
    stage_run(deployment.pk, "smoke", clients={"sagemaker": client})
    deployment_approve(deployment=deployment, actor="oncall")
    before = release_for_alias("production")
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", _endpoint(), {"EndpointName": "intent-ep"})
        stub.add_client_error(
            "update_endpoint_weights_and_capacities",
            service_error_code="ThrottlingException",
            service_message="Rate exceeded",
            http_status_code=400,
            expected_params=SHIFT_TO_GREEN,
        )
        stub.add_client_error(
            "update_endpoint_weights_and_capacities",
            service_error_code="ValidationException",
            service_message="Variant green has no model",
            http_status_code=400,
            expected_params=SHIFT_TO_GREEN,
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert stage_run(deployment.pk, "promote", clients={"sagemaker": client}) == "failed"
        stub.assert_no_pending_responses()
    log = DeploymentStage.objects.get(name="promote").log
    assert "throttled (ThrottlingException), retry 1/3" in log
    assert "ValidationException: Variant green has no model" in log
    assert "production alias left where it was" in log
    assert release_for_alias(AliasName.PRODUCTION).pk == before.pk
    assert Deployment.objects.get(pk=deployment.pk).state == Deployment.State.FAILED


def test_sagemaker_promotion_shifts_traffic_and_waits_for_in_service():
    client = _sagemaker()
    target = SageMakerTarget("intent-ep", client=client)
    lines = []
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", _endpoint(), {"EndpointName": "intent-ep"})
        stub.add_client_error(
            "update_endpoint_weights_and_capacities", service_error_code="ThrottlingException", http_status_code=400
        )
        stub.add_response(
            "update_endpoint_weights_and_capacities",
            {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/intent-ep"},
            SHIFT_TO_GREEN,
        )
        stub.add_response("describe_endpoint", _endpoint("Updating", (1.0, 0.0)), {"EndpointName": "intent-ep"})
        stub.add_response("describe_endpoint", _endpoint("InService", (0.0, 1.0)), {"EndpointName": "intent-ep"})
        result = target.promote(None, lines.append)
        stub.assert_no_pending_responses()
    assert result["live"] == "green"
    assert result["weights"] == {"blue": 0.0, "green": 1.0}
    assert any("retry 1/" in line for line in lines)
    # an endpoint not InService is refused before any traffic moves
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", _endpoint("Updating"), {"EndpointName": "intent-ep"})
        with pytest.raises(DeploymentError, match="is Updating, not InService"):
            target.promote(None, lines.append)


def test_bedrock_model_is_checked_with_a_throttle_retried_and_an_unknown_model_refused(settings):
    settings.DEPLOY_AWS_BACKOFF_S = 0.01
    client = boto3.client("bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    target = BedrockTarget(model, client=client)
    found = {
        "modelDetails": {
            "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}",
            "modelId": model,
            "responseStreamingSupported": True,
            "modelLifecycle": {"status": "ACTIVE"},
        }
    }
    lines = []
    with Stubber(client) as stub:
        stub.add_client_error("get_foundation_model", service_error_code="ThrottlingException", http_status_code=429)
        stub.add_response("get_foundation_model", found, {"modelIdentifier": model})
        assert target.stage(type("R", (), {"number": 7})(), lines.append)["status"] == "ACTIVE"
        stub.add_client_error(
            "get_foundation_model",
            service_error_code="ResourceNotFoundException",
            service_message="Model not found",
            http_status_code=404,
        )
        with pytest.raises(DeploymentError, match="ResourceNotFoundException: Model not found"):
            target.stage(type("R", (), {"number": 7})(), lines.append)
    assert lines[0].startswith("get_foundation_model: throttled (ThrottlingException)")


def test_one_click_rollback_shifts_sagemaker_traffic_back_to_the_old_variant(
    pipeline_env, django_capture_on_commit_callbacks
):
    from registry.rollout.rollback import release_rollback, rollback_followup

    client = _sagemaker()
    first = release_for_alias("production")
    release = _sagemaker_release()
    deployment = _start(release, django_capture_on_commit_callbacks, clients={"sagemaker": client})
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", _endpoint(), {"EndpointName": "intent-ep"})
        for name in AUTOMATIC:
            with django_capture_on_commit_callbacks(execute=True):
                stage_run(deployment.pk, name, clients={"sagemaker": client})
        deployment_approve(deployment=deployment, actor="oncall")
        stub.add_response("describe_endpoint", _endpoint(), {"EndpointName": "intent-ep"})
        stub.add_response(
            "update_endpoint_weights_and_capacities",
            {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/intent-ep"},
            SHIFT_TO_GREEN,
        )
        stub.add_response("describe_endpoint", _endpoint("InService", (0.0, 1.0)), {"EndpointName": "intent-ep"})
        with django_capture_on_commit_callbacks(execute=True):
            assert stage_run(deployment.pk, "promote", clients={"sagemaker": client}) == "passed"
        stub.assert_no_pending_responses()
    assert release_for_alias("production").pk == release.pk

    with django_capture_on_commit_callbacks(execute=False):  # the follow-up is run by hand below
        rollback = release_rollback(actor="oncall", reason="bad reranker", expected_release=release.number)
    cache.clear()  # what the skipped on-commit callback would have dropped
    back_to_blue = {
        "EndpointName": "intent-ep",
        "DesiredWeightsAndCapacities": [
            {"VariantName": "blue", "DesiredWeight": 1.0},
            {"VariantName": "green", "DesiredWeight": 0.0},
        ],
    }
    with Stubber(client) as stub:
        stub.add_response(
            "update_endpoint_weights_and_capacities",
            {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/intent-ep"},
            back_to_blue,
        )
        stub.add_response("describe_endpoint", _endpoint("InService", (1.0, 0.0)), {"EndpointName": "intent-ep"})
        done = rollback_followup(rollback.pk, clients={"sagemaker": client})
        stub.assert_no_pending_responses()
    assert release_for_alias("production").pk == first.pk
    assert done.targets_result == {"sagemaker:intent-ep": "traffic back on variant blue"}
    assert done.state == done.State.DONE
    assert AuditEntry.objects.filter(action=AuditAction.RELEASE_ROLLBACK, after__state="done").get().evidence[
        "targets"
    ] == {"sagemaker:intent-ep": "traffic back on variant blue"}


def test_a_stage_whose_worker_was_lost_is_failed_and_the_deployment_retried_from_there(
    pipeline_env, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from registry.rollout.deployments import deployment_retry, deployments_unstick

    release = _candidate()
    deployment = _start(release, django_capture_on_commit_callbacks)
    stage_run(deployment.pk, "build")
    # the worker took the evaluation and died: the stage stays "running"
    DeploymentStage.objects.filter(deployment=deployment, name="evaluate").update(
        status="running", started_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert stage_run(deployment.pk, "evaluate") == "running"  # a re-delivery does not run it twice
    assert deployments_unstick() == [DeploymentStage.objects.get(deployment=deployment, name="evaluate").pk]
    deployment.refresh_from_db()
    assert deployment.state == Deployment.State.FAILED
    assert "its worker was lost" in deployment.failure
    with django_capture_on_commit_callbacks(execute=False) as queued:
        deployment_retry(deployment=deployment, actor="oncall")
    assert len(queued) == 1  # the chain from the failed stage
    assert _statuses(deployment) == {
        "build": "passed",
        "evaluate": "pending",
        "staging": "pending",
        "smoke": "pending",
        "approve": "pending",
        "promote": "pending",
    }
    for name in ("evaluate", "staging", "smoke"):
        with django_capture_on_commit_callbacks(execute=True):
            assert stage_run(deployment.pk, name) == "passed"
    assert Deployment.objects.get(pk=deployment.pk).state == Deployment.State.WAITING
    with pytest.raises(DeploymentError, match="only a failed deployment"):
        deployment_retry(deployment=deployment, actor="oncall")
    assert "retried by oncall" in DeploymentStage.objects.get(deployment=deployment, name="evaluate").log
