"""The guardrail policy: which checks run, their thresholds, deny-lists and fallback messages.

A policy is the ``config`` of a ``guardrail_policy`` component version in the registry, so a change
to it is a new version, named by a new release, reviewed, evaluated and rolled back like any other
component (ARCHITECTURE "releases and aliases"). The trained injection classifier is that version's
artifact (``artifact_uri`` + ``artifact_sha256``, loaded only when the checksum matches) and its
metrics are the version's metrics. ``DEFAULT_POLICY`` is version 1, registered by
``registry_defaults_ensure``; ``train_guardrails`` registers the next version with the classifier.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

SAFE_FALLBACK = "I can only help with manga-related questions."

DEFAULT_POLICY: dict = {
    "checks": {
        # pre-generation
        "input_length": {"enabled": True, "max_chars": 2000},
        "injection_rules": {"enabled": True},
        # read off the cross-validated sweep train_guardrails prints (hand-written sets): at 0.9 rules +
        # classifier block 80.2% of 1,255 attacks and 0.81% of 1,366 benign messages
        "injection_classifier": {"enabled": True, "threshold": 0.9},
        # alt-profanity-check's model (guardrails/toxicity.py); threshold chosen on toxicity_dev.jsonl
        "input_toxicity": {"enabled": True, "threshold": 0.9},
        # harmful and off-topic requests (guardrails/scope.py); thresholds read off `eval_scope --sweep`
        # (cross-validated on the 2,772 hand-written scope rows: 91.2% refused, 1.9% of in-scope refused)
        "scope": {
            "enabled": True,
            "harmful_threshold": 0.5,
            "off_topic_threshold": 0.7,
            "off_topic_threshold_named": 0.8,
        },
        # post-generation
        "asin": {"enabled": True},
        "price": {"enabled": True},
        "url": {"enabled": True, "allowed_domains": ["amazon.com", "amazon.co.uk", "amazon.co.jp", "a.co"]},
        "pii": {
            "enabled": True,
            "entities": [
                "EMAIL_ADDRESS",
                "PHONE_NUMBER",
                "CREDIT_CARD",
                "US_SSN",
                "IBAN_CODE",
                "IP_ADDRESS",
                "ORDER_ID",
            ],
            "score_threshold": 0.35,
            # presidio's PhoneRecognizer runs one libphonenumber matcher per region: two keep it near 1 ms
            "phone_regions": ["US", "GB"],
        },
        "output_toxicity": {"enabled": True, "threshold": 0.9},
        "competitor": {"enabled": True},
        "faithfulness": {"enabled": True, "threshold": 0.5, "min_content_words": 4},
        # per streamed chunk
        "stream": {"enabled": True, "window_chars": 48},
    },
    # Severe terms block an input; any of these or of ``profanity`` blocks an output.
    "toxicity_terms": [
        "kill yourself",
        "kys",
        "i will kill you",
        "i'll kill you",
        "go die",
        "bomb threat",
        "shoot up",
        "rape",
        "nazi scum",
    ],
    # Manga vocabulary the toxicity model never reads (masked first), beside the catalog's own series.
    "toxicity_allow": [
        "hell's paradise",
        "jigokuraku",
        "kill la kill",
        "goblin slayer",
        "hellsing",
        "devilman",
        "devilman crybaby",
        "assassination classroom",
        "highschool of the dead",
        "the promised neverland",
        "chainsaw man",
        "demon slayer",
        "attack on titan",
        "death note",
        "tokyo ghoul",
        "berserk",
        "akame ga kill",
        "hunter x hunter",
        "fire punch",
        "parasyte",
        "junji ito",
        "uzumaki",
        "ghoul",
        "titan",
        "shinigami",
    ],
    "profanity": ["fuck", "fucking", "shit", "bitch", "bastard", "asshole", "cunt", "dickhead", "motherfucker"],
    "competitors": [
        "barnes & noble",
        "barnes and noble",
        "bookwalker",
        "book walker",
        "right stuf",
        "rightstuf",
        "instocktrades",
        "books-a-million",
        "books a million",
        "kinokuniya",
        "walmart",
        "ebay",
        "alibaba",
        "aliexpress",
        "wordery",
        "waterstones",
    ],
    "fallbacks": {
        "injection": SAFE_FALLBACK,
        "input_toxicity": (
            "Let's keep it friendly. I can help you find manga, check prices and stock, or explain orders and returns."
        ),
        "scope_harmful": "I can't help with that. I'm MangaAssist: I can find manga, check prices and stock, and "
        "explain orders, returns and shipping.",
        "scope_self_harm": "I'm really sorry you're going through this. I can't help with that, but you don't have to "
        "face it alone: please talk to someone you trust, or a crisis line (US: call or text 988; UK: Samaritans "
        "116 123; Japan: TELL 03-5774-0992). If you are in danger right now, call your local emergency number.",
        "out_of_scope": "I can only help with manga-related questions: finding series and volumes, prices, orders, "
        "returns and shipping.",
        "input_length": "That message is too long for me. Could you ask in a shorter way?",
        "stream": "Sorry, I can't share that. I can help you find manga, check prices and stock, or explain orders and "
        "returns.",
        "post": "Sorry, I can't give you a reliable answer to that. I can connect you with a customer service "
        "associate, or you can ask me about a specific title.",
        "escalation": "I'm not certain enough to answer that without guessing, so I won't. I can connect you with a "
        "customer service associate who can check for you.",
    },
    # What ``guardrails_suite`` must reach for this policy to pass (seed US-7.1).
    "suite_thresholds": {"attack_block_rate": 0.95, "benign_false_positive_rate": 0.01, "benign_pass_rate": 0.95},
}


@dataclass(frozen=True)
class Policy:
    version: str
    config: dict
    classifier: tuple[str, str] | None = None  # (artifact path, sha256)
    metrics: dict = field(default_factory=dict)

    def check(self, name: str) -> dict:
        """The settings of check ``name`` ({} and disabled when the policy does not name it)."""
        return self.config.get("checks", {}).get(name) or {"enabled": False}

    def enabled(self, name: str) -> bool:
        return bool(self.check(name).get("enabled", False))

    def fallback(self, kind: str) -> str:
        return self.config.get("fallbacks", {}).get(kind) or SAFE_FALLBACK


def default_policy() -> Policy:
    return Policy(version="builtin", config=copy.deepcopy(DEFAULT_POLICY))


def policy_from_version(version) -> Policy:
    """A Policy from a registry ComponentVersion of kind guardrail_policy."""
    classifier = (version.artifact_uri, version.artifact_sha256) if version.artifact_uri else None
    return Policy(version=version.version_id, config=version.config, classifier=classifier, metrics=version.metrics)


def policy_without(policy: Policy, checks: list[str]) -> Policy:
    """``policy`` with ``checks`` disabled (a guardrail switched off by its flag, S29). The version
    says so, so a trace shows which checks did not run."""
    config = copy.deepcopy(policy.config)
    for name in checks:
        config.setdefault("checks", {}).setdefault(name, {})["enabled"] = False
    label = f"{policy.version}-off:{','.join(sorted(checks))}"
    return Policy(version=label, config=config, classifier=policy.classifier, metrics=policy.metrics)


def validate_policy(config: dict) -> list[str]:
    """Problems with a policy document, each one sentence (empty when it is usable)."""
    problems = []
    if not isinstance(config, dict):
        return ["A policy is a JSON object."]
    checks = config.get("checks")
    if not isinstance(checks, dict):
        problems.append("'checks' must be an object of check name → settings.")
        checks = {}
    known = set(DEFAULT_POLICY["checks"])
    for name, spec in checks.items():
        if name not in known:
            problems.append(f"Unknown check {name!r}; known checks: {', '.join(sorted(known))}.")
        elif not isinstance(spec, dict):
            problems.append(f"Check {name!r} must be an object with at least 'enabled'.")
    for name in ("toxicity_terms", "profanity", "competitors", "toxicity_allow"):
        value = config.get(name, [])
        if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
            problems.append(f"'{name}' must be a list of non-empty strings.")
    threshold = (checks.get("injection_classifier") or {}).get("threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        problems.append("injection_classifier.threshold must be a number between 0 and 1.")
    for name in ("input_toxicity", "output_toxicity"):
        value = (checks.get(name) or {}).get("threshold", 0.9)
        if not isinstance(value, int | float) or not 0 < value <= 1:
            problems.append(f"{name}.threshold must be a number above 0 and at most 1.")
    scope = checks.get("scope") or {}
    for name in ("harmful_threshold", "off_topic_threshold", "off_topic_threshold_named"):
        value = scope.get(name, 0.5)
        if not isinstance(value, int | float) or not 0 < value <= 1:
            problems.append(f"scope.{name} must be a number above 0 and at most 1.")
    faith = (checks.get("faithfulness") or {}).get("threshold", 0.5)
    if not isinstance(faith, int | float) or not 0 <= faith <= 1:
        problems.append("faithfulness.threshold must be a number between 0 and 1.")
    return problems
