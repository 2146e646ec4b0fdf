"""JSON Lines files read one object a line, with the file and line in every error (no Django)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def jsonl_rows(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line; ``ValueError`` naming ``path:line`` on bad JSON."""
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{lineno}: not JSON ({exc.msg})") from exc
