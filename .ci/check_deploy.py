"""Run `manage.py check --deploy` with the production variables of docker-compose.yml and fail on any
warning (issue 15, S26).

The variables are the `environment` of the stack's shared `x-app` block, with compose's
`${NAME:-default}` and `${NAME:?message}` forms resolved against this process's environment (CI
passes a generated DJANGO_SECRET_KEY, as an operator would). Paths inside the container are replaced
by a scratch folder, and nothing connects to the stack's database or Redis: the deploy checks read
settings only.

    python .ci/check_deploy.py [--compose docker-compose.yml]   # exit 0: no warning
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
_VAR = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def compose_environment(path: Path, env: dict) -> dict:
    """The web, worker and beat services' environment as compose would resolve it from ``env``."""
    spec = yaml.safe_load(path.read_text())
    raw = spec["x-app"]["environment"]

    def resolve(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        if op == ":?":
            raise SystemExit(f"docker-compose.yml requires {name}: {arg}")
        return ""

    return {key: _VAR.sub(resolve, str(value)) for key, value in raw.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", default=str(ROOT / "docker-compose.yml"))
    args = parser.parse_args()
    production = compose_environment(Path(args.compose), os.environ)
    with tempfile.TemporaryDirectory() as scratch:
        # only what the stack's containers would have: none of this shell's Django or test switches
        inherited = ("DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
        env = {k: v for k, v in os.environ.items() if k not in inherited}
        env.update(production)
        env["MANGACONSOLE_VAR_DIR"] = scratch
        command = [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)  # noqa: S603
    output = (result.stdout + result.stderr).strip()
    print(f"manage.py check --deploy with {', '.join(sorted(production))} from {args.compose}:")
    print(output)
    if result.returncode != 0 or "WARNING" in output.upper() or "issues" in output and "0 silenced" not in output:
        print("FAILED: the production settings of docker-compose.yml draw warnings", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
