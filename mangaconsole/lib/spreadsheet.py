"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV Injection").

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``). OWASP's
remedy: prefix such a cell with a single quote, which the spreadsheet shows as text and does not
evaluate. Only text is touched: numbers (a negative price) stay numbers. ``cell_restore`` undoes it
for files that come back in (the golden dataset's CSV import), so an export round-trips.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def cell_restore(value):
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


class SafeWriter:
    """Wraps a ``csv.writer`` or ``csv.DictWriter``: every row written goes through ``cell_safe``."""

    def __init__(self, writer):
        self._writer = writer

    def writeheader(self):
        return self._writer.writeheader()

    def writerow(self, row):
        if isinstance(row, dict):
            return self._writer.writerow({k: cell_safe(v) for k, v in row.items()})
        return self._writer.writerow([cell_safe(v) for v in row])
