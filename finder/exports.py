"""Writing data back out for spreadsheets, safely."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

#: Cells starting with these are run as formulas by Excel, LibreOffice and Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: Spreadsheets skip these before deciding a cell is a formula (" =1+1" still runs in some).
_LEADING_BLANKS = " \u00a0\u3000\ufeff"


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formula injection by prefixing a quote (OWASP advice).

    The one guard for every CSV the project writes: a cell that starts with
    = + - @, a tab, CR or LF (or their full-width forms), also after leading
    spaces, gets a leading apostrophe, so it is shown as text.
    """
    if value and value.lstrip(_LEADING_BLANKS).startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    """A whole CSV document with every cell passed through :func:`csv_safe` (None -> empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_safe(h) for h in header])
    for row in rows:
        writer.writerow([csv_safe("" if cell is None else str(cell)) for cell in row])
    return buffer.getvalue()
