"""Prompt templates and their immutable versions, with the review workflow's state.

A ``PromptVersion``'s content (body, few-shot examples, semantic version, author, change
description, changelog line) never changes after it is saved; only the workflow fields move,
always through prompts_app.services, each move audited.
"""

from django.conf import settings
from django.db import models


class PromptTemplate(models.Model):
    name = models.CharField(max_length=40, unique=True, help_text="'base' or an intent name.")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_base(self) -> bool:
        return self.name == "base"


class PromptStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RELEASED = "released", "Released"


class PromptVersion(models.Model):
    template = models.ForeignKey(PromptTemplate, on_delete=models.PROTECT, related_name="versions")
    major = models.PositiveIntegerField()
    minor = models.PositiveIntegerField()
    patch = models.PositiveIntegerField()
    body = models.TextField()
    few_shot = models.JSONField(default=list, blank=True)
    content_sha256 = models.CharField(max_length=64)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    change_description = models.TextField()
    changelog = models.CharField(max_length=300, help_text="One line for the changelog.")
    created_at = models.DateTimeField(auto_now_add=True)

    status = models.CharField(max_length=20, choices=PromptStatus.choices, default=PromptStatus.DRAFT)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_comment = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # The registry release cut to evaluate this version (production with this template swapped in);
    # releasing moves ``staging`` to it.
    candidate_release = models.ForeignKey(
        "registry.Release", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["template__name", "-major", "-minor", "-patch"]
        constraints = [
            models.UniqueConstraint(fields=["template", "major", "minor", "patch"], name="unique_prompt_semver")
        ]
        permissions = [
            ("review_promptversion", "Can approve or reject another author's prompt version"),
            ("release_promptversion", "Can release an approved, evaluated prompt version to staging"),
            ("promote_promptversion", "Can promote the staging prompt release to production and roll it back"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def semver(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def label(self) -> str:
        return f"{self.template.name}@{self.semver}"
