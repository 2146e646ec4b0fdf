"""Prompt templates: Jinja2 in its sandbox, strict about undefined names, checked at save.

Jinja's ``SandboxedEnvironment`` refuses unsafe attribute access (``__class__``, ``mro``…) at render
time, and ``StrictUndefined`` turns a misspelt name into an error instead of an empty string
(Jinja docs, "Sandbox" and "Undefined Types"). ``template_check`` runs before a version is saved: it
parses the body (a syntax error names its line), walks the tree for names the template may not use
(each named with its line), and renders once with sample data so a runtime error is caught too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

BASE = "base"
# What each kind of template may read. The base prompt is the system message; an intent template
# assembles the user message from the retrieved context, the question and the history.
ALLOWED = {
    "base": {"store_name", "max_sentences", "intent"},
    "intent": {"question", "context", "history", "intent"},
}
REQUIRED = {"base": set(), "intent": {"question"}}
MAX_BODY = 20_000

SAMPLE = {
    "store_name": "MangaAssist Store",
    "max_sentences": 6,
    "intent": "faq",
    "question": "What is your return window?",
    "context": [
        {
            "n": 1,
            "title": "Returns and refunds policy",
            "text": "Returns within 30 days.",
            "source": "policy",
            "key": "k",
        }
    ],
    "history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}],
}

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateInvalid(ValueError):
    """A template that cannot be saved: ``line`` (1-based, or None) and ``reason``."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason, self.line = reason, line
        super().__init__(f"line {line}: {reason}" if line else reason)


@dataclass(frozen=True)
class Problem:
    line: int | None
    reason: str


def kind_of(name: str) -> str:
    return "base" if name == BASE else "intent"


def _name_lines(ast) -> dict[str, int]:
    lines: dict[str, int] = {}
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load":
            lines.setdefault(node.name, node.lineno)
    return lines


def template_check(body: str, *, kind: str) -> None:
    """Raise ``TemplateInvalid`` with the line and reason when ``body`` cannot be a ``kind`` template."""
    if not body.strip():
        raise TemplateInvalid("the template is empty")
    if len(body) > MAX_BODY:
        raise TemplateInvalid(f"the template is {len(body):,} characters; the limit is {MAX_BODY:,}")
    try:
        ast = _env.parse(body)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(f"syntax error: {exc.message}", exc.lineno) from exc
    allowed = ALLOWED[kind]
    unknown = sorted(meta.find_undeclared_variables(ast) - allowed)
    if unknown:
        lines = _name_lines(ast)
        name = min(unknown, key=lambda n: lines.get(n, 0))
        raise TemplateInvalid(
            f"unknown variable '{name}'; {'an' if kind[:1] in 'aeiou' else 'a'} {kind} template may use: "
            f"{', '.join(sorted(allowed))}",
            lines.get(name),
        )
    missing = REQUIRED[kind] - meta.find_undeclared_variables(ast)
    if missing:
        raise TemplateInvalid(
            f"the template never uses {{{{ {sorted(missing)[0]} }}}}: the shopper's words would be lost"
        )
    try:
        _env.from_string(body).render(**SAMPLE)
    except (SecurityError, UndefinedError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateInvalid(f"fails when rendered: {exc}", getattr(exc, "lineno", None)) from exc


@lru_cache(maxsize=256)
def compiled(body: str):
    """A compiled template, once per distinct body (bodies are immutable per version)."""
    return _env.from_string(body)


def render(body: str, **variables) -> str:
    return compiled(body).render(**variables).strip()
