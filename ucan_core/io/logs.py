"""Certification logs in the TSV format of Cohen, Rosenfeld & Kolter (2019).

Format: one header line, then one tab-separated row per input, ``\\n``-terminated.

* certify logs: ``idx label predict radius correct time``; ``predict = -1`` means abstain
  (``radius 0.0``, ``correct 0``); ``time`` is float seconds or ``H:MM:SS.ffffff``
  (``str(datetime.timedelta)``). Any further columns are allowed after these six.
* predict logs: ``idx label predict correct time`` (same conventions, no radius).

Our writer emits the six certify columns followed by :data:`EXTRA_COLUMNS`. Every float is
written with ``repr`` (full precision, round-trips exactly): Cohen wrote radii with 3
significant digits, which can round a radius up. The writer appends and fsyncs row by row
and resumes an interrupted log (see :class:`LogWriter`).
"""

from __future__ import annotations

import fcntl
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar, Literal

import numpy as np

from ucan_core.errors import UcanError

CERTIFY_COLUMNS = ("idx", "label", "predict", "radius", "correct", "time")


PREDICT_COLUMNS = ("idx", "label", "predict", "correct", "time")


EXTRA_COLUMNS = ("alm", "radius_l1", "radius_l2", "radius_linf", "p_a_lower", "kind", "soundness")


UCAN_COLUMNS = CERTIFY_COLUMNS + EXTRA_COLUMNS


_INT_COLUMNS = ("idx", "label", "predict", "correct")


_TEXT_COLUMNS = ("kind", "soundness")


_TIMEDELTA = re.compile(r"(?:(-?\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d*)?)")


def parse_time(text: str) -> float:
    """Seconds from ``'15.4'`` or ``'0:02:31.238689'`` (also ``'1 day, 0:00:01'``)."""
    match = _TIMEDELTA.fullmatch(text)
    if match:
        days, hours, minutes, seconds = match.groups()
        return (int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60
                + float(seconds))
    return float(text)


@dataclass(frozen=True)
class LogRow:
    """One row of a ucan certify log. ``radius`` is in the noise's native norm, ``alm`` the
    volume-equivalent radius, ``radius_l*`` the ℓ1/ℓ2/ℓ∞ radii (NaN without a closed form),
    ``time`` the wall seconds per input (its certify_batch call's time / inputs in it)."""

    columns: ClassVar[tuple[str, ...]] = UCAN_COLUMNS
    idx: int
    label: int
    predict: int
    radius: float
    correct: int
    time: float
    alm: float
    radius_l1: float
    radius_l2: float
    radius_linf: float
    p_a_lower: float
    kind: str
    soundness: str

    def to_line(self) -> str:
        """The TSV line, ``\\n``-terminated, floats via ``repr``."""
        values = (getattr(self, name) for name in self.columns)
        return "\t".join(repr(float(v)) if isinstance(v, float) else str(v)
                         for v in values) + "\n"


SEQUENTIAL_COLUMNS = UCAN_COLUMNS + ("samples_used",)


@dataclass(frozen=True)
class SequentialLogRow(LogRow):
    """A ucan certify log row of sequential (anytime-valid) CERTIFY, followed by the
    estimation samples it used before stopping (``p_a_lower`` is the anytime-valid bound)."""

    columns: ClassVar[tuple[str, ...]] = SEQUENTIAL_COLUMNS
    samples_used: int


DUAL_COLUMNS = UCAN_COLUMNS + ("level", "r_sigma", "r_c", "p_a_lower_sigma")


@dataclass(frozen=True)
class DualLogRow(LogRow):
    """A ucan certify log row (``radius`` = min(R_σ, R_c), ``p_a_lower`` of the
    classification stage) followed by the selected ``level``, ``r_sigma``, ``r_c`` and the
    estimator's ``p_a_lower_sigma``."""

    columns: ClassVar[tuple[str, ...]] = DUAL_COLUMNS
    level: float
    r_sigma: float
    r_c: float
    p_a_lower_sigma: float


ROUTE_COLUMNS = UCAN_COLUMNS + ("config", "r_sel", "r_c", "alm_c", "alm_upper", "p_a_lower_sel")


@dataclass(frozen=True)
class RouteLogRow(LogRow):
    """A ucan certify log row (``radius`` = min(R_sel, R_c), ``alm`` the certified
    ellipsoid's size, ``p_a_lower`` of the classification stage) followed by the chosen
    ``config``, ``r_sel``, ``r_c``, the configuration's ``alm_c``, ``alm_upper`` =
    min(R_sel, ALM) and the selector's ``p_a_lower_sel``."""

    columns: ClassVar[tuple[str, ...]] = ROUTE_COLUMNS
    config: str
    r_sel: float
    r_c: float
    alm_c: float
    alm_upper: float
    p_a_lower_sel: float


@dataclass
class Log:
    """A parsed certify or predict log; one array entry per row.

    ``radius`` is ``None`` for predict logs; ``extra`` holds the columns after the standard
    ones (float arrays where every value parses as a float, else arrays of str);
    ``truncated`` says that an unterminated, unparsable last line was ignored.
    """

    path: Path
    kind: Literal["certify", "predict"]
    columns: tuple[str, ...]
    idx: np.ndarray
    label: np.ndarray
    predict: np.ndarray
    correct: np.ndarray
    time: np.ndarray
    radius: np.ndarray | None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.idx)


def _header_kind(path: Path, header: list[str]) -> Literal["certify", "predict"]:
    if len(header) == 1:
        raise UcanError(f"{path} is not a tab-separated log (its first line has no tab)")
    if tuple(header[:6]) == CERTIFY_COLUMNS:
        return "certify"
    if tuple(header[:5]) == PREDICT_COLUMNS:
        return "predict"
    expected = CERTIFY_COLUMNS if "radius" in header else PREDICT_COLUMNS
    missing = [c for c in expected if c not in header]
    if missing:
        raise UcanError(f"{path}: not a Cohen-format log: missing column(s) {', '.join(missing)} "
                        f"(tab-separated header must start with {' '.join(CERTIFY_COLUMNS)})")
    raise UcanError(f"{path}: columns must start with {' '.join(expected)} in that order, "
                    f"got {' '.join(header[:len(expected)])}")


#: Allowed ranges of the integer columns (``predict`` −1 = abstain; int64 throughout).
_INT_RANGES = {"idx": (0, 2**63 - 1), "label": (0, 2**63 - 1), "predict": (-1, 2**63 - 1),
               "correct": (0, 1)}


def _parse_row(fields: list[str], columns: tuple[str, ...]) -> dict[str, object]:
    if len(fields) != len(columns):
        raise ValueError(f"{len(fields)} fields for {len(columns)} columns")
    row: dict[str, object] = {}
    for name, text in zip(columns, fields):
        if name in _INT_COLUMNS:
            value = int(text)
            low, high = _INT_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f"{name} {text[:24]!r} is outside [{low}, {high}]")
            row[name] = value
        elif name in ("time", "radius"):
            value = parse_time(text) if name == "time" else float(text)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} {text[:24]!r} is not a finite number >= 0")
            row[name] = value
        else:
            row[name] = text
    return row


_Parsed = tuple[Literal["certify", "predict"], tuple[str, ...], list[dict[str, object]], bool]


def _parse(path: Path, text: str) -> _Parsed:
    """Kind, header, parsed rows, and whether an unterminated unparsable last line was
    dropped."""
    lines = text.split("\n")
    header = tuple(lines[0].rstrip("\r").split("\t"))
    kind = _header_kind(path, list(header))
    body, tail = lines[1:-1], lines[-1]
    rows = []
    for number, line in enumerate(body, start=2):
        try:
            rows.append(_parse_row(line.rstrip("\r").split("\t"), header))
        except ValueError as error:
            raise UcanError(f"{path} line {number}: {error}") from None
    truncated = False
    if tail:  # no final newline: keep the line only if it is complete
        try:
            rows.append(_parse_row(tail.split("\t"), header))
        except ValueError:
            truncated = True
    return kind, header, rows, truncated


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise UcanError(f"log not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UcanError(f"{path} is not a text TSV log") from None
    if "\n" not in text:
        raise UcanError(f"{path} has no complete header line (empty or not a TSV log)")
    return text


def _column(rows: list[dict[str, object]], name: str) -> np.ndarray:
    values = [row[name] for row in rows]
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=str)


def read_log(path: str | Path) -> Log:
    """Parse a certify or predict log (Cohen's, or ours with extra columns)."""
    path = Path(path)
    kind, header, rows, truncated = _parse(path, _read_text(path))
    standard = CERTIFY_COLUMNS if kind == "certify" else PREDICT_COLUMNS

    def ints(name: str) -> np.ndarray:
        return np.array([row[name] for row in rows], dtype=np.int64)

    floats = {name: np.array([row[name] for row in rows], dtype=np.float64)
              for name in ("radius", "time") if name in standard}
    return Log(path=path, kind=kind, columns=header, idx=ints("idx"), label=ints("label"),
               predict=ints("predict"), correct=ints("correct"), time=floats["time"],
               radius=floats.get("radius"), truncated=truncated,
               extra={name: _column(rows, name) for name in header[len(standard):]})


class LogWriter:
    """Append :class:`LogRow` s to a ucan certify log, resuming an interrupted one.

    On open: a missing or empty file gets the header. An existing file must carry exactly
    the :data:`UCAN_COLUMNS` header; an unterminated last line (a run killed mid-write) is
    cut off the file (kept in ``dropped_line``); the remaining rows' idx are listed in
    ``done`` (in file order) so the caller skips them; a log holding two rows of one idx is
    refused. Every row is flushed and fsynced as it is written. ``columns`` is the header of
    the rows written (a :class:`LogRow` subclass may add columns after :data:`UCAN_COLUMNS`).
    The writer holds an exclusive lock on the log (``flock``) while open: a second writer of
    the same log is refused in one line instead of interleaving rows with the first.
    """

    def __init__(self, path: str | Path, columns: tuple[str, ...] = UCAN_COLUMNS) -> None:
        self.path = Path(path)
        self.done: list[int] = []
        header = "\t".join(columns) + "\n"
        if self.path.exists() and not self.path.is_file():
            raise UcanError(f"{self.path} is not a regular file: give a log file path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[bytes] = open(self.path, "a+b")  # noqa: SIM115
        except OSError as error:
            raise UcanError(f"cannot write {self.path}: {error.strerror}") from None
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise UcanError(f"another run is writing {self.path}: wait for it to finish or "
                            "use another --out") from None
        self._file.seek(0)
        try:
            keep = self._resume(self._file.read(), header)
        except UcanError:
            self._file.close()
            raise
        self._file.truncate(keep)  # appends (a+b) then continue after the kept rows
        if not keep:
            self._write(header)

    def _resume(self, raw: bytes, header: str) -> int:
        """Check the existing bytes of the log and list its rows' idx; returns the length of
        the part to keep (up to the last complete line)."""
        keep = raw[:raw.rfind(b"\n") + 1]
        self.dropped_line = raw[len(keep):].decode("utf-8", "replace")
        if keep:
            text = keep.decode("utf-8", "replace")
            if not text.startswith(header):
                found = text.split("\n", 1)[0].replace("\t", " ")
                raise UcanError(f"{self.path} exists with another header ({found!r}); "
                                f"expected {header.strip().replace(chr(9), ' ')}: use another "
                                "--out")
            rows = _parse(self.path, text)[2]
            self.done = [int(row["idx"]) for row in rows]  # type: ignore[call-overload]
            counts = Counter(self.done)
            twice = next((i for i in self.done if counts[i] > 1), None)
            if twice is not None:
                raise UcanError(f"{self.path} holds two rows of idx {twice}: not a log this "
                                "run wrote; use another --out")
        elif self.dropped_line and not header.startswith(self.dropped_line):
            raise UcanError(f"{self.path} exists and is not a ucan certify log: use another --out")
        return len(keep)

    def _write(self, line: str) -> None:
        self._file.write(line.encode("utf-8"))
        self._file.flush()
        os.fsync(self._file.fileno())

    def write(self, row: LogRow) -> None:
        """Append one row and force it to disk."""
        self._write(row.to_line())
        self.done.append(row.idx)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
