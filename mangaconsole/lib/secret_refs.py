"""Secrets by reference: a component's config names where a secret lives, never the secret itself.

A registered config is copied into the append-only audit log and its exports for ever, so a literal
``api_key`` there can never be taken back. A config instead holds ``<name>_ref`` with one of

- ``"env:OPENAI_API_KEY"``: an environment variable of the serving process;
- ``"aws-secretsmanager:<secret id or ARN>"``, optionally ``#<json field>``: resolved at call time
  through boto3's Secrets Manager ``GetSecretValue`` (cached for ``SECRET_CACHE_SECONDS``), so a
  rotation reaches every process within that time and no copy is stored.

``literal_secrets`` finds config keys that look like secrets and hold a value instead of a reference;
the registry refuses to register such a config.
"""

from __future__ import annotations

import json
import os
import threading
import time

from django.conf import settings

SECRET_KEYS = {
    "api_key",
    "apikey",
    "secret",
    "secret_key",
    "client_secret",
    "password",
    "passwd",
    "token",
    "access_token",
    "auth_token",
    "bearer_token",
    "access_key",
    "access_key_id",
    "secret_access_key",
    "aws_secret_access_key",
    "session_token",
    "aws_session_token",
    "private_key",
    "authorization",
}
SECRET_SUFFIXES = ("_api_key", "_secret", "_password", "_token", "_secret_key", "_private_key")
REF_SCHEMES = ("env:", "aws-secretsmanager:")

_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


class SecretError(ValueError):
    """A secret reference that is malformed or cannot be resolved; the message says which."""


def _looks_secret(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return k in SECRET_KEYS or k.endswith(SECRET_SUFFIXES)


def literal_secrets(config, path: str = "") -> list[str]:
    """Dotted paths of config keys that hold a literal secret (a non-empty value under a secret-like
    name). ``<name>_ref`` keys must hold a valid reference instead; a bad one is listed too."""
    found = []
    if isinstance(config, dict):
        for key, value in config.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).endswith("_ref"):
                if not (isinstance(value, str) and value.startswith(REF_SCHEMES) and value.split(":", 1)[1]):
                    found.append(f"{here} (a reference is 'env:NAME' or 'aws-secretsmanager:ID')")
            elif _looks_secret(str(key)) and value not in (None, "", [], {}):
                found.append(here)
            else:
                found += literal_secrets(value, here)
    elif isinstance(config, list):
        for i, value in enumerate(config):
            found += literal_secrets(value, f"{path}[{i}]")
    return found


def secret_resolve(ref: str, *, client=None) -> str:
    """The secret ``ref`` names, read now (from the environment, or Secrets Manager through boto3;
    ``client`` is a boto3 secretsmanager client, a botocore Stubber's in tests)."""
    if not isinstance(ref, str) or not ref.startswith(REF_SCHEMES):
        raise SecretError(f"{ref!r} is not a secret reference ('env:NAME' or 'aws-secretsmanager:ID')")
    scheme, name = ref.split(":", 1)
    if scheme == "env":
        value = os.environ.get(name)
        if not value:
            raise SecretError(f"the environment variable {name} named by the config is not set")
        return value
    with _lock:
        hit = _cache.get(ref)
        if hit and hit[0] > time.monotonic():
            return hit[1]
    secret_id, _, field = name.partition("#")
    if client is None:
        import boto3  # the AWS SDK loads only for a config that names a Secrets Manager secret

        client = boto3.client("secretsmanager", region_name=getattr(settings, "AWS_REGION", "us-east-1"))
    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except Exception as exc:  # botocore's ClientError and connection errors alike
        raise SecretError(f"Secrets Manager could not read {secret_id}: {exc}") from exc
    value = answer.get("SecretString") or ""
    if field:
        try:
            value = json.loads(value)[field]
        except (ValueError, KeyError, TypeError) as exc:
            raise SecretError(f"secret {secret_id} has no JSON field {field!r}") from exc
    if not value:
        raise SecretError(f"secret {secret_id} is empty")
    with _lock:
        _cache[ref] = (time.monotonic() + getattr(settings, "SECRET_CACHE_SECONDS", 300), value)
    return value


def secret_cache_clear() -> None:
    with _lock:
        _cache.clear()
