"""Radius formulas filled with the current numbers (markdown lines)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.figures.common import fmt, fmt_p, kind_badge, norm_symbol

_SEPARATE_AFTER = re.compile(r"[0-9A-Za-z\u0370-\u03ff)]$")
_SEPARATE_BEFORE = re.compile(r"^[0-9A-Za-z\u0370-\u03ff(√]")


def substitute(expression: str, values: Mapping[str, float], digits: int = 4) -> str:
    """Replace the symbols of ``expression`` (e.g. σ, λ, d, p_A, a) by their numbers.

    A symbol is a whole token: ``d`` does not match inside ``ln``/``max``, ``a`` not inside
    ``atanh``. Implicit products get an explicit ``·`` (``2λd`` → ``2·0.3536·784``).
    """
    if not values:
        return expression
    symbols = sorted(values, key=len, reverse=True)
    pattern = re.compile("|".join(
        rf"(?<![A-Za-z_]){re.escape(s)}(?![A-Za-z_])" if s.isascii() else re.escape(s)
        for s in symbols))
    out: list[str] = []
    position = 0
    for match in pattern.finditer(expression):
        out.append(expression[position:match.start()])
        value = values[match.group(0)]
        text = fmt(value, digits)
        if match.group(0) == "p_A" and text in ("0", "1") and 0 < value < 1:
            text = fmt_p(value, digits)      # never Φ⁻¹(1) for a p_A below 1
        before = "".join(out)
        if _SEPARATE_AFTER.search(before):
            text = "·" + text
        if _SEPARATE_BEFORE.match(expression[match.end():]):
            text = text + "·"
        out.append(text)
        position = match.end()
    out.append(expression[position:])
    return "".join(out)


def split_formula(formula: str) -> tuple[str, list[tuple[str, str]]]:
    """Split an engine formula ``"expr,  λ = σ/√2"`` into the expression and definitions."""
    parts = [part.strip() for part in formula.split(",  ")]
    definitions = []
    for part in parts[1:]:
        symbol, _, rhs = part.partition("=")
        definitions.append((symbol.strip(), rhs.strip()))
    return parts[0], definitions


def fill_formula(formula: str, values: Mapping[str, float], radius: float, kind: str,
                 norm: str, symbol: str = "R", digits: int = 4) -> list[str]:
    """Markdown lines: the symbolic formula, the same filled with numbers, and the result.

    ``values`` maps symbols to numbers (σ, λ, d, p_A and single-letter parameters). A scale
    defined in the formula from σ under another name (e.g. ``b = 2σ/π``) is shown with the
    value of λ, the noise's scale. Numbers get ``digits`` significant digits.
    """
    expression, definitions = split_formula(formula)
    known = dict(values)
    where = []
    for name, rhs in definitions:
        if name not in known and "σ" in rhs and "λ" in known:
            known[name] = known["λ"]
        filled = substitute(rhs, {k: v for k, v in known.items() if k != name}, digits)
        line = f"`{name} = {rhs}`"
        if filled != rhs:
            line += f" `= {filled}`"
        if name in known:
            line += f" `= {fmt(known[name], digits)}`"
        where.append(line)
    lines = [f"`{symbol}_{norm_symbol(norm)[1:]} = {expression}`",
             f"`  = {substitute(expression, known, digits)}`",
             f"`  = {fmt(radius, digits)}` {kind_badge(kind)}"]
    if where:
        lines.append("where " + ";  ".join(where))
    return lines


def values_table(sigma: float, lambd: float, dim: int, p_a: float,
                 params: Mapping[str, float] | None = None) -> dict[str, float]:
    """The symbol → number map used by :func:`fill_formula`."""
    table: dict[str, float] = {"σ": sigma, "λ": lambd, "d": float(dim), "p_A": p_a}
    for key, value in (params or {}).items():
        if len(key) == 1:
            table[key] = value
    return table


