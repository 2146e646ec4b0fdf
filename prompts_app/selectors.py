"""Reads for the prompt pages: what serves where, versions and their diffs."""

from __future__ import annotations

import difflib

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from prompts_app.models import PromptStatus, PromptTemplate, PromptVersion
from prompts_app.services import bundle_for_release
from registry.models import AliasName
from registry.selectors import release_for_alias


def prompt_overview() -> dict:
    production = release_for_alias(AliasName.PRODUCTION)
    staging = release_for_alias(AliasName.STAGING)
    prod_bundle = bundle_for_release(production) if production else None
    staging_bundle = bundle_for_release(staging) if staging else None
    rows = []
    for template in PromptTemplate.objects.prefetch_related("versions"):
        versions = list(template.versions.all())
        rows.append(
            {
                "template": template,
                "production": prod_bundle.templates[template.name].semver
                if prod_bundle and template.name in prod_bundle.templates
                else "",
                "staging": staging_bundle.templates[template.name].semver
                if staging_bundle and template.name in staging_bundle.templates
                else "",
                "latest": versions[0] if versions else None,
                "open": sum(1 for v in versions if v.status in (PromptStatus.DRAFT, PromptStatus.IN_REVIEW)),
            }
        )
    in_review = PromptVersion.objects.filter(status=PromptStatus.IN_REVIEW).select_related("template")
    return {"production": production, "staging": staging, "rows": rows, "in_review": in_review}


def get_template_for_user(request, name: str) -> PromptTemplate:
    if not request.user.has_perm("prompts_app.view_promptversion"):
        raise PermissionDenied
    return get_object_or_404(PromptTemplate, name=name)


def get_version_for_user(request, pk: int) -> PromptVersion:
    if not request.user.has_perm("prompts_app.view_promptversion"):
        raise PermissionDenied
    return get_object_or_404(PromptVersion.objects.select_related("template", "candidate_release"), pk=pk)


def version_diff(old: PromptVersion | None, new: PromptVersion) -> list[tuple[str, str]]:
    """Unified diff lines of body and few-shot examples, each with its kind (add, del, hunk, same)."""
    import json

    def text(v):
        if v is None:
            return []
        return [*v.body.splitlines(), "", "# few-shot examples", *json.dumps(v.few_shot, indent=1).splitlines()]

    out = []
    for line in difflib.unified_diff(
        text(old), text(new), fromfile=old.label if old else "(none)", tofile=new.label, lineterm="", n=3
    ):
        kind = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else "same"
        )
        out.append((kind, line))
    return out
