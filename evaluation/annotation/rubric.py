"""The rubric of the weekly human evaluation (seed 000 US-3.6): its scales, flags and thresholds, and the
error the queue and batches raise. Imports nothing from the rest of the package."""

from __future__ import annotations

from django.conf import settings

DIMENSIONS: dict[str, dict] = {
    "factual": {
        "label": "Factual correctness",
        "rubric": {
            1: "Wrong facts: a price, volume, date or policy that the sources contradict.",
            2: "A material error or an invented fact beside some correct ones.",
            3: "Mostly right; a minor slip or an unsupported detail.",
            4: "Correct; nothing contradicts the sources.",
            5: "Correct, complete and exactly what the catalog and policies say.",
        },
    },
    "helpful": {
        "label": "Helpfulness",
        "rubric": {
            1: "Does not address the question.",
            2: "Touches the question but leaves the shopper stuck.",
            3: "Answers, but the shopper must ask again for the useful part.",
            4: "Answers the question; the next step is clear.",
            5: "Answers and anticipates the next need (a volume, a link, a policy).",
        },
    },
    "tone": {
        "label": "Tone",
        "rubric": {
            1: "Rude, dismissive or culturally inappropriate.",
            2: "Cold, preachy or over-familiar.",
            3: "Neutral; acceptable.",
            4: "Friendly and respectful.",
            5: "Warm, on-brand, fits a manga fan.",
        },
    },
    "format": {
        "label": "Format",
        "rubric": {
            1: "Broken: raw markup, a wall of text, cut off.",
            2: "Hard to scan; lists or prices buried.",
            3: "Readable with effort.",
            4: "Clean and scannable.",
            5: "Ideal length and structure for a chat bubble.",
        },
    },
}


SCALES = tuple(DIMENSIONS)


FLAGS = {"unsafe": "Unsafe", "pii": "Contains PII", "wrong_intent": "Wrong intent"}


DISAGREEMENT_GAP = 2  # a 1-5 scale two or more points apart, or opposite purchase answers


LOW_SCORE = 2.0  # an item whose final score on any scale is at most this goes to the golden dataset


HIGH_SCORE = 4.0  # every scale at least this (and thumbs up, resolved) makes a training candidate


class AnnotationError(ValueError):
    """A request the queue or a batch cannot accept; ``errors`` maps a field to its problem."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


def lock_minutes() -> int:
    return int(getattr(settings, "ANNOTATION_LOCK_MINUTES", 15))
