"""Where a release is deployed, behind one interface (US-1.2, US-1.3).

- ``local``: the in-process runtime (what the demo serves); staging loads the release's components
  the way a turn does, promotion is the alias move itself.
- ``sagemaker``: a SageMaker endpoint with two production variants, blue and green. Staging checks the
  endpoint is InService and finds the idle variant; promotion shifts all traffic to it with
  ``UpdateEndpointWeightsAndCapacities`` and waits for the endpoint to be InService again; a rollback
  shifts it back. (The variants' models and endpoint config are infrastructure as code, created
  outside the console; the console only moves traffic, as the SageMaker blue/green guide describes.)
- ``bedrock``: the release's generator names a Bedrock model id; staging and promotion check the
  model exists and is ACTIVE (``GetFoundationModel``) — the model change itself is the release's
  generator config, which the alias move puts in force.

Every AWS call goes through boto3 with botocore's own retries off and ours on: a throttled call
(ThrottlingException and kin) is retried with backoff and each retry is written to the stage's log;
any other error raises ``DeploymentError`` and the pipeline leaves the alias where it was. Tests use
botocore's Stubber; nothing reaches the network.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from chat.serving import serving_context
from registry.models import Deployment, StageName
from registry.selectors import release_versions

THROTTLE_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}

Log = Callable[[str], None]


class DeploymentError(RuntimeError):
    """A target refused or failed a step; the message says which call and why."""


def aws_client(service: str):
    """A boto3 client with botocore's retries off (ours log each one)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=getattr(settings, "AWS_REGION", "us-east-1"),
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def aws_call(fn, log: Log, *, attempts: int | None = None, **kwargs) -> dict:
    """Call ``fn(**kwargs)``, retrying throttles with exponential backoff."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempts = attempts or int(getattr(settings, "DEPLOY_AWS_ATTEMPTS", 4))
    base = float(getattr(settings, "DEPLOY_AWS_BACKOFF_S", 0.5))
    name = getattr(fn, "__name__", "call")
    for attempt in range(1, attempts + 1):
        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            if code in THROTTLE_CODES and attempt < attempts:
                wait = base * 2 ** (attempt - 1)
                log(f"{name}: throttled ({code}), retry {attempt}/{attempts - 1} in {wait:.1f} s")
                time.sleep(wait)
                continue
            raise DeploymentError(f"{name} failed: {code}: {message}") from exc
        except BotoCoreError as exc:
            raise DeploymentError(f"{name} failed: {exc}") from exc
    raise DeploymentError(f"{name} failed: still throttled after {attempts} attempts")  # pragma: no cover


class LocalTarget:
    name = "local"

    def label(self) -> str:
        return "local (in-process runtime)"

    def stage(self, release, log: Log) -> dict:
        ctx = serving_context(release)  # loads and checksums the intent artifact, policy and prompts
        log(f"local: release {release.number} loads: {', '.join(f'{k}={v}' for k, v in sorted(ctx.versions.items()))}")
        return {"versions": ctx.versions}

    def promote(self, release, log: Log) -> dict:
        log("local: the in-process runtime follows the production alias (every process within 1 s)")
        return {}

    def rollback(self, release, log: Log) -> dict:
        return self.promote(release, log)


class SageMakerTarget:
    """Blue/green traffic shift between two production variants of one endpoint."""

    name = "sagemaker"

    def __init__(self, endpoint: str, *, component: str = "", client=None):
        self.endpoint = endpoint
        self.component = component
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = aws_client("sagemaker")
        return self._client

    def label(self) -> str:
        return f"sagemaker:{self.endpoint}"

    def _variants(self, log: Log) -> tuple[dict, str, str]:
        found = aws_call(self.client.describe_endpoint, log, EndpointName=self.endpoint)
        status = found.get("EndpointStatus")
        variants = found.get("ProductionVariants", [])
        if status != "InService":
            raise DeploymentError(f"endpoint {self.endpoint} is {status}, not InService")
        if len(variants) != 2:
            raise DeploymentError(
                f"endpoint {self.endpoint} has {len(variants)} production variants; blue/green needs two"
            )
        ordered = sorted(variants, key=lambda v: v.get("CurrentWeight", 0), reverse=True)
        return found, ordered[0]["VariantName"], ordered[1]["VariantName"]

    def stage(self, release, log: Log) -> dict:
        _, live, idle = self._variants(log)
        log(f"sagemaker {self.endpoint}: InService; live variant {live}, idle variant {idle} takes release")
        return {"endpoint": self.endpoint, "live": live, "idle": idle}

    def shift_to(self, variant: str, other: str, log: Log) -> dict:
        aws_call(
            self.client.update_endpoint_weights_and_capacities,
            log,
            EndpointName=self.endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": variant, "DesiredWeight": 1.0},
                {"VariantName": other, "DesiredWeight": 0.0},
            ],
        )
        log(f"sagemaker {self.endpoint}: traffic shifting to {variant}")
        polls = int(getattr(settings, "DEPLOY_SAGEMAKER_POLLS", 60))
        for _ in range(polls):
            found = aws_call(self.client.describe_endpoint, log, EndpointName=self.endpoint)
            status = found.get("EndpointStatus")
            if status == "InService":
                weights = {v["VariantName"]: v.get("CurrentWeight") for v in found.get("ProductionVariants", [])}
                log(f"sagemaker {self.endpoint}: InService, weights {weights}")
                return {"endpoint": self.endpoint, "live": variant, "previous": other, "weights": weights}
            if status in ("Failed", "RollingBack", "OutOfService"):
                raise DeploymentError(
                    f"endpoint {self.endpoint} went {status} during the shift: {found.get('FailureReason', '')}"
                )
            time.sleep(float(getattr(settings, "DEPLOY_SAGEMAKER_POLL_S", 5)))
        raise DeploymentError(f"endpoint {self.endpoint} did not return to InService in time")

    def promote(self, release, log: Log) -> dict:
        _, live, idle = self._variants(log)
        return self.shift_to(idle, live, log)

    def rollback(self, release, log: Log) -> dict:
        # the old variant is the one at weight 0 after a promotion: shift back to it
        return self.promote(release, log)


class BedrockTarget:
    name = "bedrock"

    def __init__(self, model_id: str, *, client=None):
        self.model_id = model_id
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = aws_client("bedrock")
        return self._client

    def label(self) -> str:
        return f"bedrock:{self.model_id}"

    def stage(self, release, log: Log) -> dict:
        found = aws_call(self.client.get_foundation_model, log, modelIdentifier=self.model_id)
        details = found.get("modelDetails", {})
        status = details.get("modelLifecycle", {}).get("status", "")
        if status != "ACTIVE":
            raise DeploymentError(f"Bedrock model {self.model_id} is {status or 'unknown'}, not ACTIVE")
        if details.get("responseStreamingSupported") is False:
            raise DeploymentError(f"Bedrock model {self.model_id} does not stream responses")
        log(f"bedrock: {self.model_id} is ACTIVE and streams; release {release.number} switches to it on promotion")
        return {"model_id": self.model_id, "status": status}

    def promote(self, release, log: Log) -> dict:
        return self.stage(release, log)

    def rollback(self, release, log: Log) -> dict:
        return self.stage(release, log)


def targets_restore(from_release, *, clients: dict | None = None) -> dict:
    """After a one-click rollback: shift every SageMaker endpoint the rolled-back release's promotion
    moved back to the variant that served before it (US-1.3). Setting the weights to a named variant
    is idempotent, so a resumed follow-up may run this twice. Returns {target: outcome}."""
    deployment = (
        Deployment.objects.filter(release=from_release, state=Deployment.State.PROMOTED).order_by("-pk").first()
    )
    if deployment is None:
        return {}
    promote = deployment.stages.filter(name=StageName.PROMOTE).first()
    outcome, lines = {}, []
    for label, detail in ((promote.detail or {}).get("targets") or {}).items() if promote else []:
        if not label.startswith("sagemaker:") or not detail.get("previous"):
            continue
        target = SageMakerTarget(detail["endpoint"], client=(clients or {}).get("sagemaker"))
        try:
            target.shift_to(detail["previous"], detail["live"], lines.append)
            outcome[label] = f"traffic back on variant {detail['previous']}"
        except DeploymentError as exc:
            outcome[label] = f"failed: {exc}"
    return outcome


def targets_for_release(release, *, clients: dict | None = None) -> list:
    """The targets a release deploys to: local always; a SageMaker endpoint per component hosted there
    (``config.endpoint_name``); Bedrock when the generator's provider is bedrock."""
    clients = clients or {}
    targets: list = [LocalTarget()]
    for kind, version in sorted(release_versions(release).items()):
        if version.hosting_target == "sagemaker":
            endpoint = version.config.get("endpoint_name")
            if not endpoint:
                raise DeploymentError(f"{version.version_id} is hosted on SageMaker but names no endpoint_name")
            targets.append(SageMakerTarget(endpoint, component=kind, client=clients.get("sagemaker")))
        if kind == "generator" and version.config.get("provider") == "bedrock":
            targets.append(BedrockTarget(version.config["model_id"], client=clients.get("bedrock")))
    return targets
