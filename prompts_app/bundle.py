"""A prompt bundle: the base system prompt plus one template per intent, as one registry version.

A release names one ``prompt_bundle`` component version; its config holds every template's body,
few-shot examples and semantic version, so what served a turn is fully recorded by the release
(no lookup of mutable rows at serving time). The files in ``prompts/`` are the released versions
``VERSIONS.json`` names (``manage.py prompts_export`` writes them, ``prompts_import`` reads a changed
directory back for review) and the default for a release that names no bundle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from prompts_app.rendering import BASE, render

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
STORE_NAME = "MangaAssist Store"
MAX_SENTENCES = 6


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    semver: str
    body: str
    few_shot: tuple  # of {"user", "assistant"} dicts

    @property
    def label(self) -> str:
        return f"{self.name}@{self.semver}"


def content_sha256(body: str, few_shot) -> str:
    return hashlib.sha256(json.dumps({"body": body, "few_shot": list(few_shot)}, sort_keys=True).encode()).hexdigest()


class PromptBundle:
    def __init__(self, templates: dict[str, TemplateSpec], version_id: str = "builtin"):
        self.templates, self.version_id = templates, version_id

    def to_config(self) -> dict:
        return {
            "templates": {
                name: {"semver": t.semver, "body": t.body, "few_shot": list(t.few_shot)}
                for name, t in sorted(self.templates.items())
            }
        }

    @classmethod
    def from_config(cls, config: dict, version_id: str) -> PromptBundle:
        return cls(
            {
                name: TemplateSpec(name, spec["semver"], spec["body"], tuple(spec.get("few_shot", [])))
                for name, spec in config["templates"].items()
            },
            version_id,
        )

    def replaced(self, spec: TemplateSpec) -> PromptBundle:
        return PromptBundle({**self.templates, spec.name: spec}, self.version_id)

    def _intent(self, intent: str) -> TemplateSpec | None:
        return self.templates.get(intent)

    def system_text(self, intent: str) -> str:
        return render(self.templates[BASE].body, store_name=STORE_NAME, max_sentences=MAX_SENTENCES, intent=intent)

    def few_shot(self, intent: str) -> list[dict]:
        spec = self._intent(intent)
        return list(spec.few_shot) if spec else []

    def user_renderer(self, intent: str):
        """``render(question, context, history) -> str`` for the intent, or None for the plain default."""
        spec = self._intent(intent)
        if spec is None:
            return None
        body = spec.body

        def _render(*, question: str, context: list[dict], history: list[dict]) -> str:
            return render(body, question=question, context=context, history=history, intent=intent)

        return _render

    def label(self, intent: str) -> str:
        """What a trace records as the prompt: the intent template's and the base's versions."""
        spec = self._intent(intent)
        base = self.templates[BASE].label
        return f"{spec.label}+{base}" if spec else base


def read_directory(directory: Path) -> dict[str, TemplateSpec]:
    """The templates a prompts directory holds: ``<name>.j2`` bodies, ``few_shot.json`` examples, and
    ``VERSIONS.json`` naming each file's semantic version (1.0.0 when it names none)."""
    shots = json.loads((directory / "few_shot.json").read_text()) if (directory / "few_shot.json").exists() else {}
    versions_file = directory / "VERSIONS.json"
    versions = json.loads(versions_file.read_text()) if versions_file.exists() else {}
    return {
        path.stem: TemplateSpec(
            path.stem, versions.get(path.stem, "1.0.0"), path.read_text().rstrip("\n"), tuple(shots.get(path.stem, []))
        )
        for path in sorted(directory.glob("*.j2"))
    }


def _read_defaults() -> dict[str, TemplateSpec]:
    return read_directory(PROMPTS_DIR)


@lru_cache(maxsize=1)
def default_bundle() -> PromptBundle:
    """Version 1.0.0 of every template, from the files in ``prompts/``."""
    return PromptBundle(_read_defaults(), "builtin")


_by_version: dict[str, PromptBundle] = {}


def bundle_from_version(version) -> PromptBundle:
    """The bundle a registered ``prompt_bundle`` ComponentVersion holds (cached: versions are immutable)."""
    # Keyed by content too: a version id names one immutable config, except across test databases.
    key = version.version_id + hashlib.sha256(json.dumps(version.config, sort_keys=True).encode()).hexdigest()
    if key not in _by_version:
        _by_version[key] = PromptBundle.from_config(version.config, version.version_id)
    return _by_version[key]
