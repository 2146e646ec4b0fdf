"""Secrets never enter the audit log (issue 15, S21): a config names its secret by reference
(an environment variable, or an AWS Secrets Manager id read at call time through boto3; botocore's
Stubber here), and registering a config that holds a literal secret is refused with the reason."""

import boto3
import pytest
from botocore.stub import Stubber

from audit.models import AuditEntry
from mangaconsole.lib.secret_refs import SecretError, literal_secrets, secret_cache_clear, secret_resolve
from registry.models import ComponentKind, ComponentVersion
from registry.services import RegistryError, component_version_register
from tests.chat.test_generation import sse_server  # noqa: F401  (the fake OpenAI-compatible server)

LEAK = "sk-live-4f9d2c7e1b"


@pytest.fixture(autouse=True)
def _empty_secret_cache():
    secret_cache_clear()
    yield
    secret_cache_clear()


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"provider": "openai_compatible", "api_key": LEAK}, "api_key"),
        ({"provider": "bedrock", "aws_secret_access_key": LEAK}, "aws_secret_access_key"),
        (
            {"provider": "x", "fallbacks": [{"provider": "y", "headers": {"Authorization": f"Bearer {LEAK}"}}]},
            "fallbacks[0].headers.Authorization",
        ),
        ({"provider": "x", "api_key_ref": LEAK}, "api_key_ref (a reference is"),
    ],
)
def test_a_config_holding_a_literal_secret_is_refused_and_nothing_is_recorded(db, config, where):
    with pytest.raises(RegistryError, match="literal secret") as refused:
        component_version_register(kind=ComponentKind.GENERATOR, actor="mleng", framework="openai", config=config)
    assert where in str(refused.value)
    assert "env:OPENAI_API_KEY" in str(refused.value)  # the message shows the way
    assert not ComponentVersion.objects.exists()
    assert not [e for e in AuditEntry.objects.all() if LEAK in str(e.after) + str(e.evidence)]


def test_a_reference_is_registered_and_only_the_reference_reaches_the_audit_log(db):
    config = {"provider": "openai_compatible", "model_id": "m", "max_tokens": 400, "api_key_ref": "env:LLM_KEY"}
    version = component_version_register(kind=ComponentKind.GENERATOR, actor="mleng", framework="openai", config=config)
    entry = AuditEntry.objects.get(target_id=version.version_id)
    assert entry.after["config"]["api_key_ref"] == "env:LLM_KEY"
    assert literal_secrets({"max_tokens": 400, "temperature": 0.2, "checks": {"pii": {"enabled": True}}}) == []


def test_an_environment_reference_is_read_when_called(monkeypatch):
    monkeypatch.setenv("LLM_KEY", "from-the-environment")
    assert secret_resolve("env:LLM_KEY") == "from-the-environment"
    monkeypatch.delenv("LLM_KEY")
    with pytest.raises(SecretError, match="LLM_KEY .* is not set"):
        secret_resolve("env:LLM_KEY")


def test_a_secrets_manager_reference_is_read_through_boto3_once_per_cache_period(settings):
    settings.SECRET_CACHE_SECONDS = 300
    client = boto3.client("secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "get_secret_value",
            {"Name": "prod/llm", "SecretString": '{"api_key": "from-secrets-manager"}'},
            {"SecretId": "prod/llm"},
        )
        stub.add_client_error("get_secret_value", "ResourceNotFoundException", "no such secret")
        ref = "aws-secretsmanager:prod/llm#api_key"
        assert secret_resolve(ref, client=client) == "from-secrets-manager"
        assert secret_resolve(ref, client=client) == "from-secrets-manager"  # cached: no second call
        with pytest.raises(SecretError, match="Secrets Manager could not read gone/llm"):
            secret_resolve("aws-secretsmanager:gone/llm", client=client)
        stub.assert_no_pending_responses()


def test_the_openai_compatible_provider_sends_the_secret_it_reads_at_call_time(sse_server):  # noqa: F811
    from chat.generation import stream_openai_compatible
    from tests.chat.test_generation import _SSE, _prompt

    client = boto3.client("secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    config = {"base_url": sse_server, "model_id": "m", "api_key_ref": "aws-secretsmanager:prod/llm"}
    with Stubber(client) as stub:
        stub.add_response("get_secret_value", {"SecretString": "rotated-key"}, {"SecretId": "prod/llm"})
        list(stream_openai_compatible(_prompt(), config=config, secrets_client=client))
    assert _SSE.received[-1]["auth"] == "Bearer rotated-key"
