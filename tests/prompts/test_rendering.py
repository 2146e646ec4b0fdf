import pytest

from prompts_app.bundle import default_bundle
from prompts_app.rendering import TemplateInvalid, render, template_check


def test_every_shipped_template_passes_its_own_check():
    for name, spec in default_bundle().templates.items():
        template_check(spec.body, kind="base" if name == "base" else "intent")


def test_a_syntax_error_is_refused_with_its_line():
    with pytest.raises(TemplateInvalid) as exc:
        template_check("Line one\n{% for c in context %}\n{{ c.text }}\nQuestion: {{ question }}", kind="intent")
    assert exc.value.line == 4  # the unclosed for block is reported where the template ends
    assert "syntax error" in exc.value.reason


def test_an_unknown_variable_is_refused_with_its_line_and_the_allowed_names():
    with pytest.raises(TemplateInvalid) as exc:
        template_check("Question: {{ question }}\nCustomer: {{ customer_email }}", kind="intent")
    assert exc.value.line == 2
    assert "customer_email" in exc.value.reason
    assert "question" in exc.value.reason


def test_an_intent_template_that_drops_the_question_is_refused():
    with pytest.raises(TemplateInvalid, match="question"):
        template_check("Answer from the sources. Cite each source you use as [n].", kind="intent")


def test_the_sandbox_refuses_reaching_into_python_internals():
    with pytest.raises(TemplateInvalid, match="fails when rendered"):
        template_check("{{ question.__class__.__mro__[1].__subclasses__() }}", kind="intent")


def test_render_fills_the_context_blocks():
    body = default_bundle().templates["faq"].body
    text = render(body, question="q?", context=[{"n": 1, "title": "T", "text": "x"}], history=[], intent="faq")
    assert "<context>\n[1] T\nx" in text
    assert text.endswith("Question: q?")
