"""What every figure family shares: colours that read on both themes, norm symbols, kind
badges, number formatting and CSV text."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence

KIND_COLOURS = {"exact": "green", "sound": "blue", "approximate": "orange"}
NORM_SYMBOLS = {"1": "ℓ1", "2": "ℓ2", "inf": "ℓ∞"}
#: Legend background that reads on light and dark themes (translucent grey, not white).
LEGEND_BG = "rgba(128,128,128,0.12)"
#: Point estimates (p̂_A): a mid-tone that shows on white and on near-black.
ESTIMATE_COLOUR = "#9467bd"
#: The selected class (ĉ_A) and the other classes in vote charts.
SELECTED_COLOUR = "#1f77b4"
OTHER_COLOUR = "#b0b7c3"


def norm_symbol(norm: str) -> str:
    """``'inf'`` → ``'ℓ∞'``, ``'2'`` → ``'ℓ2'``."""
    return NORM_SYMBOLS.get(str(norm), f"ℓ{norm}")


def kind_badge(kind: str) -> str:
    """A Streamlit-markdown badge for a radius kind (exact / sound / approximate)."""
    return f":{KIND_COLOURS.get(kind, 'gray')}-badge[{kind}]"



def fmt(value: float, digits: int = 4) -> str:
    """``digits`` significant digits (four by default), plain notation where reasonable (whole
    numbers, and values of more than ``digits`` integer digits rounded to whole: 1234.5 at 3
    digits is "1234", never "1.23e+03"); a value that rounds to zero is "0", never "−0"."""
    if value == 0 or not math.isfinite(value):
        return f"{value + 0.0:g}"
    if (float(value).is_integer() or abs(value) >= 10 ** digits) and abs(value) < 1e15:
        return str(round(value))
    text = f"{value:.{digits}g}"
    return "0" if float(text) == 0 else text


def fmt_p(p: float, digits: int = 3) -> str:
    """A probability for reading: ``digits`` decimals, more only where fewer would round a
    value strictly inside (0, 1) to 0 or 1 (0.999309 → "0.999", 0.99993 → "0.9999")."""
    if not math.isfinite(p) or not 0 < p < 1:
        return fmt(p, digits)
    decimals = digits
    while decimals < 12 and round(p, decimals) in (0.0, 1.0):
        decimals += 1
    return f"{p:.{decimals}f}"


def fmt_rate(rate: float) -> str:
    """A speed (samples per second) for reading: whole numbers with thousands separators from
    100 on, two significant digits below ("12,345", "140", "1.4", "0.35"), never "0" for a
    rate above zero."""
    return f"{rate:,.0f}" if rate >= 99.5 else fmt(rate, 2)


def full(value: float) -> str:
    """A number at full precision, for tooltips (the shortest text that reads back exactly)."""
    return repr(float(value))


def csv_text(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows of plain values as CSV text (header from the first row's keys)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()
