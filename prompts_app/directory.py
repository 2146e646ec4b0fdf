"""Prompts as files reviewed by pull request (seed 000 US-2.1, seed 002 S16; issue 18 item 7).

``directory_export`` writes every template's latest released version to a directory (``<name>.j2``,
``few_shot.json``, ``VERSIONS.json``) with its ``CHANGELOG.md`` entry; ``directory_import`` turns a
changed directory (a merged pull request) into new versions that enter the console's review, one per
changed template, each with the changelog line its author wrote under "## Unreleased". Like MLflow's
prompt registry and Langfuse's prompt management, the registry keeps the versions; unlike them, the
files in git are the review surface and the console the release surface.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.db import transaction

from prompts_app.bundle import TemplateSpec, content_sha256, read_directory
from prompts_app.models import PromptStatus, PromptTemplate, PromptVersion
from prompts_app.rendering import TemplateInvalid
from prompts_app.services import PromptError, prompt_version_create, prompt_version_submit

UNRELEASED = "## Unreleased"
_NOTE = re.compile(r"^- (?P<name>[a-z_]+): (?P<text>.+)$")


def _latest(template: PromptTemplate, *, released: bool = False) -> PromptVersion | None:
    versions = template.versions.order_by("-major", "-minor", "-patch")
    if released:
        versions = versions.filter(status=PromptStatus.RELEASED)
    return versions.first()


def unreleased_notes(changelog: str) -> dict[str, str]:
    """``- <template>: <line>`` entries under "## Unreleased" (until the next heading)."""
    notes, inside = {}, False
    for line in changelog.splitlines():
        if line.startswith("## "):
            inside = line.strip() == UNRELEASED
            continue
        m = _NOTE.match(line.strip()) if inside else None
        if m:
            notes[m["name"]] = m["text"].strip()
    return notes


def _changelog(directory: Path, released: list[PromptVersion]) -> str:
    path = directory / "CHANGELOG.md"
    old = path.read_text() if path.exists() else "# Prompt changelog\n"
    header = old.split("\n## ", 1)[0].rstrip() + "\n"
    original = ""
    if "\n## 1.0.0" in old:
        original = "## 1.0.0" + old.split("\n## 1.0.0", 1)[1].split("\n## ", 1)[0].rstrip("\n") + "\n"
    sections = [f"\n{UNRELEASED}\n"]
    for v in sorted(released, key=lambda v: (v.released_at, v.label), reverse=True):
        if (v.major, v.minor, v.patch) == (1, 0, 0):
            continue
        reviewer = f", reviewed by {v.reviewer.get_username()}" if v.reviewer_id else ""
        day = v.released_at.date().isoformat() if v.released_at else "unreleased"
        sections.append(f"\n## {v.label} ({day})\n- {v.changelog} (by {v.author_name}{reviewer})\n")
    return header + "".join(sections) + ("\n" + original if original else "")


def directory_export(directory: Path) -> list[PromptVersion]:
    """Write the latest released version of every template; returns the versions written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [v for t in PromptTemplate.objects.order_by("name") if (v := _latest(t, released=True))]
    for v in written:
        (directory / f"{v.template.name}.j2").write_text(v.body.rstrip("\n") + "\n")
    shots = {v.template.name: v.few_shot for v in written if v.few_shot}
    (directory / "few_shot.json").write_text(json.dumps(shots, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    versions = {v.template.name: v.semver for v in written}
    (directory / "VERSIONS.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")
    (directory / "CHANGELOG.md").write_text(_changelog(directory, written))
    return written


def directory_changes(directory: Path) -> list[tuple[PromptTemplate, TemplateSpec, PromptVersion | None]]:
    """(template, the directory's spec, the template's latest version) for each changed template."""
    out, unknown = [], []
    for name, spec in read_directory(directory).items():
        template = PromptTemplate.objects.filter(name=name).first()
        if template is None:
            unknown.append(name)
            continue
        latest = _latest(template)
        if latest is None or latest.content_sha256 != content_sha256(spec.body, spec.few_shot):
            out.append((template, spec, latest))
    if unknown:
        raise PromptError(
            f"{', '.join(sorted(unknown))}.j2: no such template (the console knows "
            f"{', '.join(PromptTemplate.objects.order_by('name').values_list('name', flat=True))})"
        )
    return out


def directory_import(directory: Path, *, actor, bump: str = "minor", message: str = "") -> list[PromptVersion]:
    """One new version per changed template, submitted for review; all or nothing. Every problem (an
    invalid template, a missing changelog line) is listed before anything is saved."""
    changes = directory_changes(directory)
    changelog_path = directory / "CHANGELOG.md"
    notes = unreleased_notes(changelog_path.read_text()) if changelog_path.exists() else {}
    problems = [
        f"{t.name}: write a changelog line under '{UNRELEASED}' in CHANGELOG.md (- {t.name}: what changed)"
        for t, _, _ in changes
        if not (notes.get(t.name) or message)
    ]
    created: list[PromptVersion] = []
    with transaction.atomic():
        for template, spec, _ in changes:
            line = notes.get(template.name) or message
            try:
                version = prompt_version_create(
                    template=template,
                    body=spec.body,
                    few_shot=list(spec.few_shot),
                    bump=bump,
                    change_description=f"Imported from {directory.name}/ (a merged pull request): {line}",
                    changelog=line or "-",
                    actor=actor,
                )
            except (TemplateInvalid, PromptError) as exc:
                problems.append(f"{template.name}.j2: {exc}")
                continue
            created.append(prompt_version_submit(version=version, actor=actor))
        if problems:
            raise PromptError("nothing was imported: " + "; ".join(problems))  # rolls back the block
    return created
