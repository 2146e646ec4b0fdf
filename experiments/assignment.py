"""Deterministic, sticky assignment (S30): one hash for experiments, the canary and the simulator.

``hash_bucket(salt, unit)`` maps a unit (a session id) to [0, 1) with SHA-256 of "salt:unit"; the same
unit always lands in the same place, different salts are independent (GrowthBook hashes the
experiment's seed with the user id the same way). Enrolment uses one draw and the arm another, so
changing the enrolled share does not reshuffle arms; an enrolled unit's arm is stored as its exposure
at first sight, so changing the split of a running experiment does not move it either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def hash_bucket(salt: str, unit) -> float:
    digest = hashlib.sha256(f"{salt}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def enrolled(salt: str, unit, percent: float) -> bool:
    return hash_bucket(f"{salt}:enrol", unit) * 100 < percent


def choose_arm(salt: str, unit, weights: Sequence[float]) -> int:
    """Index of the arm for ``unit`` under ``weights`` (any positive numbers)."""
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("weights must add up to more than 0")
    point = hash_bucket(f"{salt}:arm", unit) * total
    running = 0.0
    for i, weight in enumerate(weights):
        running += weight
        if point < running:
            return i
    return len(weights) - 1


def matches_targeting(targeting: dict, attributes: dict) -> bool:
    """Whether a session with ``attributes`` ({"user_type", "region"}) is eligible."""
    user_types = targeting.get("user_types") or []
    regions = [r.upper() for r in targeting.get("regions") or []]
    if user_types and attributes.get("user_type") not in user_types:
        return False
    return not (regions and str(attributes.get("region") or "").upper() not in regions)
