"""The import layers of README "Architecture" (issue 17). import-linter's contracts (pyproject.toml,
run by `make lint`) say who may import whom; this test checks what they cannot say alone: no import
loop between two apps, counted on the real module graph (grimp, which import-linter uses)."""

import subprocess
import sys

import grimp
import pytest
from django.conf import settings

APPS = ["mangaconsole", "audit", "registry", "prompts_app", "experiments", "evaluation", "guardrails", "finops", "chat"]


def _loops(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_loop_spans_two_apps():
    graph = grimp.build_graph(*APPS, include_external_packages=False, cache_dir=None)
    across = [loop for loop in _loops(graph) if len({m.split(".")[0] for m in loop}) > 1]
    assert across == [], across


def test_the_loop_finder_finds_a_loop():
    graph = grimp.ImportGraph()
    for module in ("a.x", "b.y", "c.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="b.y")
    graph.add_import(importer="b.y", imported="a.x")
    graph.add_import(importer="b.y", imported="c.z")
    assert _loops(graph) == [["a.x", "b.y"]]


# Modules in a loop inside one app resolve it by importing a module, not names from it; whichever is
# imported first must still work. Each is imported first in a fresh interpreter.
FIRST_IMPORTS = [
    "registry.rollout.deployments",
    "registry.rollout.rollback",
    "registry.rollout.tasks",
    "registry.rollout.monitoring",
    "registry.rollout.selectors",
    "evaluation.services",
    "evaluation.annotation.services",
    "evaluation.tasks",
    "mangaconsole.urls",
]


@pytest.mark.parametrize("module", FIRST_IMPORTS)
def test_each_module_of_a_loop_can_be_imported_first(module):
    code = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mangaconsole.settings'); "
        f"django.setup(); import {module}"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
