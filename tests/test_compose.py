"""docker-compose.yml is parsed (no Docker engine here) and each service's command is checked."""

import importlib
import shlex
from pathlib import Path

import yaml
from django.conf import settings


def _compose() -> dict:
    return yaml.safe_load(Path(settings.BASE_DIR, "docker-compose.yml").read_text())


def test_the_stack_has_the_production_shaped_services():
    services = _compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def _modules_named(command: list[str] | str) -> list[str]:
    words = shlex.split(command[-1]) if command[0] == "sh" else list(command)
    modules = []
    for i, word in enumerate(words):
        if ":" in word and "." in word.split(":")[0] and not word.startswith(("http", "redis", "postgres")):
            modules.append(word)  # module:attribute (daphne app, beat scheduler)
        if word == "-A":
            modules.append(words[i + 1] + ":celery_app")
        if word == "manage.py":
            modules.append(f"django.core.management.commands.{words[i + 1]}:Command")
    return modules


def test_each_service_command_names_a_real_module():
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        modules = _modules_named(services[name]["command"])
        assert modules, f"{name}: no module found in its command"
        for target in modules:
            module_name, _, attribute = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError:
                # manage.py commands may live in an app rather than in Django itself
                module = importlib.import_module(
                    f"django.contrib.staticfiles.management.commands.{module_name.rsplit('.', 1)[-1]}"
                )
            assert hasattr(module, attribute), f"{name}: {module_name} has no {attribute}"
