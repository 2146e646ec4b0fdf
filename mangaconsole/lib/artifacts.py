"""Model artifacts on disk: pickled, with the SHA-256 the registry records, and loaded only when
the checksum still matches (intent classifier, injection classifier)."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path


def save(obj, path: Path) -> str:
    """Write the artifact; returns its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    path.write_bytes(blob)
    return hashlib.sha256(blob).hexdigest()


def load_verified(path: str, sha256: str, *, what: str):
    """Load an artifact, refusing one whose checksum differs from the registry's."""
    blob = Path(path).read_bytes()
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise ValueError(f"{what} {path} has checksum {actual[:12]}…, the registry says {sha256[:12]}…")
    return pickle.loads(blob)  # noqa: S301 (our own artifact, checksum verified against the registry)
