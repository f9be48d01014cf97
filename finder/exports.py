"""Writing data back out for spreadsheets, safely."""

from __future__ import annotations

#: Cells starting with these are run as formulas by Excel, LibreOffice and Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formula injection by prefixing a quote (OWASP advice)."""
    if value and value.startswith(_FORMULA_START):
        return "'" + value
    return value
