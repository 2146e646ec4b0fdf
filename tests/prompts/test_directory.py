"""Prompts reviewed by pull request (issue 18 item 7): export to files with a changelog, import a
changed directory into versions that enter review, and the pull-request gate."""

import json
import shutil

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from prompts_app.bundle import PROMPTS_DIR, read_directory
from prompts_app.directory import unreleased_notes
from prompts_app.models import PromptStatus, PromptTemplate, PromptVersion
from prompts_app.services import prompt_version_create


@pytest.fixture
def prompts_dir(tmp_path):
    target = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, target)
    return target


def _edit_faq(directory, note="- faq: quote time limits in days"):
    faq = directory / "faq.j2"
    faq.write_text(faq.read_text().replace("in a few sentences", "in two or three sentences, quoting time limits"))
    changelog = directory / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("\n## 1.0.0", f"\n## Unreleased\n{note}\n\n## 1.0.0", 1))


def test_export_writes_the_released_versions_with_their_changelog(serving, prompts_dir):
    template = PromptTemplate.objects.get(name="faq")
    latest = template.versions.get()
    released = prompt_version_create(
        template=template,
        body=latest.body + "\nKeep it short.",
        few_shot=latest.few_shot,
        bump="minor",
        change_description="shorter",
        changelog="faq: keep it short",
        actor="system:test",
    )
    PromptVersion.objects.filter(pk=released.pk).update(status=PromptStatus.RELEASED, released_at=timezone.now())
    call_command("prompts_export", "--dir", str(prompts_dir))
    specs = read_directory(prompts_dir)
    assert specs["faq"].semver == "1.1.0"
    assert specs["faq"].body.endswith("Keep it short.")
    assert json.loads((prompts_dir / "VERSIONS.json").read_text())["base"] == "1.0.0"
    changelog = (prompts_dir / "CHANGELOG.md").read_text()
    assert "## faq@1.1.0 (" in changelog
    assert "- faq: keep it short (by system:test)" in changelog
    assert "## 1.0.0" in changelog  # the original entry is kept
    assert unreleased_notes(changelog) == {}


def test_import_turns_a_changed_file_into_a_version_in_review(serving, prompts_dir, capsys):
    _edit_faq(prompts_dir)
    call_command("prompts_import", "--dir", str(prompts_dir))
    version = PromptTemplate.objects.get(name="faq").versions.order_by("-minor").first()
    assert (version.semver, version.status) == ("1.1.0", PromptStatus.IN_REVIEW)
    assert version.changelog == "quote time limits in days"
    assert "faq@1.1.0 in review" in capsys.readouterr().out
    call_command("prompts_import", "--dir", str(prompts_dir))  # the same directory again: nothing new
    assert "no template changed" in capsys.readouterr().out


def test_import_lists_every_problem_and_saves_nothing(serving, prompts_dir):
    _edit_faq(prompts_dir, note="")
    (prompts_dir / "promotion.j2").write_text("{% if %} broken")
    with pytest.raises(CommandError) as err:
        call_command("prompts_import", "--dir", str(prompts_dir))
    assert "faq: write a changelog line under '## Unreleased'" in str(err.value)
    assert "promotion" in str(err.value)
    assert PromptVersion.objects.filter(status=PromptStatus.IN_REVIEW).count() == 0
    (prompts_dir / "manga.j2").write_text("hello")
    with pytest.raises(CommandError, match="manga.j2: no such template"):
        call_command("prompts_import", "--dir", str(prompts_dir))


def test_the_gate_evaluates_a_changed_intent_on_the_test_part_against_production(
    serving, golden_small, prompts_dir, capsys
):
    call_command("prompts_gate", "--dir", str(prompts_dir))
    assert "No prompt changed against production" in capsys.readouterr().out
    _edit_faq(prompts_dir)
    call_command("prompts_gate", "--dir", str(prompts_dir), "--format", "json")
    report = json.loads(capsys.readouterr().out)
    assert report["part"] == "test"
    assert "Only the 'faq' template changed" in report["scope"]
    assert report["status"] == "passed"
    (prompts_dir / "faq.j2").write_text("{{ undefined_thing }")
    with pytest.raises(CommandError, match="invalid templates: faq.j2"):
        call_command("prompts_gate", "--dir", str(prompts_dir))


def test_the_workflow_runs_the_gate_on_prompt_changes_and_comments():
    workflow = yaml.safe_load((settings.BASE_DIR / ".github/workflows/prompt-gate.yml").read_text())
    trigger = workflow.get("on") or workflow.get(True)  # YAML 1.1 reads a bare `on` as True
    assert trigger["pull_request"]["paths"] == ["prompts_app/prompts/**"]
    steps = workflow["jobs"]["gate"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "manage.py prompts_gate --dir prompts_app/prompts" in runs
    assert "gh pr comment" in runs
    assert any("exit 1" in s.get("run", "") for s in steps)
