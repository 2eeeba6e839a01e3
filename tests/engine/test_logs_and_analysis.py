"""Cohen-format certification logs (write, resume, read), `ucan certify --dataset` and
`ucan analyze`, checked against the published logs of Cohen et al. (2019)."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ucan_core import UcanError, make_noise
from ucan_core.analysis import certified_accuracy, summarize
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.cli import main
from ucan_core.io.datasets import load_mnist
from ucan_core.io.logs import UCAN_COLUMNS, LogRow, LogWriter, parse_time, read_log
from ucan_core.io.records import log_row
from ucan_core.zoo.bundled import load_model

ROOT = Path(__file__).resolve().parents[2]
COHEN = Path("/work/shared/data/cohen_logs")
MNIST = Path("/work/shared/data/mnist")
IMAGENET = COHEN / "certify/imagenet/resnet50"
SIGMAS = ("0.25", "0.50", "1.00")
needs_cohen = pytest.mark.skipif(not COHEN.is_dir(), reason=f"no Cohen logs at {COHEN}")
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST at {MNIST}")


def certify_args(out: Path, *extra: str) -> list[str]:
    """10 test images (every 200th), 5 chunks of 2; σ = 0.5 on the σ = 0.25 model so that
    p_A varies from image to image and the rows depend on the noise drawn."""
    return ["certify", "--model", "mnist-gaussian-0.25", "--dataset", "mnist", "--data-root",
            str(MNIST), "--skip", "200", "--max", "10", "--n0", "50", "--n", "200",
            "--sigma", "0.5", "--inputs-per-pass", "2", "--batch", "400", "--seed", "7",
            "--device", "cpu", "--out", str(out), *extra]


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def data_lines(path: Path) -> list[str]:
    """Complete data lines of a log (the header and an unterminated tail excluded)."""
    text = path.read_text()
    return text[:text.rfind("\n") + 1].splitlines()[1:]


def without_time(lines: list[str]) -> list[list[str]]:
    time_col = UCAN_COLUMNS.index("time")
    return [f[:time_col] + f[time_col + 1:] for f in (line.split("\t") for line in lines)]


def make_row(idx: int, radius: float, predict: int = 3, label: int = 3) -> LogRow:
    return LogRow(idx=idx, label=label, predict=predict, radius=radius,
                  correct=int(predict == label), time=0.1 + 0.2, alm=radius * 1.0000001,
                  radius_l1=radius, radius_l2=radius, radius_linf=math.nan, p_a_lower=2 / 3,
                  kind="exact", soundness="sound")


# ---------------------------------------------------------------- writer and reader


def test_round_trip_keeps_full_precision(tmp_path: Path) -> None:
    path = tmp_path / "log.tsv"
    rows = [make_row(0, 0.5 * 3.8115), make_row(20, 1 / 3), make_row(40, 0.0, predict=-1),
            make_row(60, 5e-324)]
    with LogWriter(path) as writer:
        assert writer.done == []
        for row in rows:
            writer.write(row)
    text = path.read_text()
    assert text.splitlines()[0] == "\t".join(UCAN_COLUMNS)
    assert "\t1.90575\t" in text and "\t1.91\t" not in text  # Cohen's {:.3} would write 1.91
    log = read_log(path)
    assert log.kind == "certify" and len(log) == 4 and not log.truncated
    assert log.radius.tolist() == [r.radius for r in rows]  # bit-exact floats
    assert log.time.tolist() == [0.1 + 0.2] * 4
    assert log.extra["alm"].tolist() == [r.alm for r in rows]
    assert log.extra["p_a_lower"].tolist() == [2 / 3] * 4
    assert np.isnan(log.extra["radius_linf"]).all()
    assert log.extra["kind"].tolist() == ["exact"] * 4
    assert log.predict.tolist() == [3, 3, -1, 3] and log.correct.tolist() == [1, 1, 0, 1]


@needs_mnist
def test_row_from_a_real_certificate() -> None:
    model, _ = load_model("mnist-gaussian-0.25")
    xs, ys = load_mnist(MNIST, "test")
    smoothed = SmoothedClassifier(model, make_noise("gaussian", 0.25, 784), 10)
    cert = smoothed.certify(xs[0], 20, 200, 0.001, seed=0)
    row = log_row(0, int(ys[0]), cert)
    assert (row.predict, row.correct) == (cert.prediction, int(cert.prediction == int(ys[0])))
    assert row.radius == cert.radius == row.radius_l2 and row.alm == cert.alm
    assert row.radius_linf == cert.radii["inf"].value == pytest.approx(cert.radius / 28)
    assert row.p_a_lower == cert.p_a_lower and row.soundness == "sound"


def test_reader_accepts_cohen_variants(tmp_path: Path) -> None:
    assert parse_time("0:02:31.238689") == pytest.approx(151.238689)
    assert parse_time("1 day, 0:00:01.5") == 86401.5
    assert parse_time("15.4") == 15.4
    path = tmp_path / "cohen"
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\tnote\n"
                    "0\t3\t3\t0.378\t1\t0:00:13.736080\ta\n"
                    "20\t7\t-1\t0.0\t0\t15.6\tb\n"
                    "40\t1\t1\t0.4")  # a run killed mid-row
    log = read_log(path)
    assert log.truncated and log.idx.tolist() == [0, 20] and log.radius.tolist() == [0.378, 0.0]
    assert log.time.tolist() == [13.73608, 15.6] and log.extra["note"].tolist() == ["a", "b"]
    path.write_text("idx\tlabel\tpredict\tcorrect\ttime\n0\t0\t0\t1\t0:00:01.737771")
    log = read_log(path)  # a complete last row without its newline is kept
    assert log.kind == "predict" and log.radius is None and not log.truncated and len(log) == 1
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n")
    assert len(read_log(path)) == 0


def test_writer_cuts_a_truncated_last_line_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "log.tsv"
    with LogWriter(path) as writer:
        for i in range(3):
            writer.write(make_row(i * 20, 0.25 * i))
    complete = path.read_bytes()
    path.write_bytes(complete + b"60\t3\t3\t0.7")  # killed while writing idx 60
    with LogWriter(path) as writer:
        assert writer.done == [0, 20, 40]
        assert path.read_bytes() == complete
        writer.write(make_row(60, 0.75))
    assert read_log(path).idx.tolist() == [0, 20, 40, 60]
    path.write_bytes(b"idx\tlabel\tpre")  # killed while writing the header
    with LogWriter(path) as writer:
        assert writer.done == []
    assert path.read_text() == "\t".join(UCAN_COLUMNS) + "\n"


def test_writer_refuses_another_header(tmp_path: Path) -> None:
    path = tmp_path / "cohen.tsv"
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t3\t3\t0.378\t1\t15.4\n")
    with pytest.raises(UcanError, match="exists with another header"):
        LogWriter(path)
    assert path.read_text().endswith("15.4\n")  # untouched


# ---------------------------------------------------------------- ucan certify --dataset


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run (in process), with its run file."""
    if not MNIST.is_dir():
        pytest.skip(f"no MNIST at {MNIST}")
    out = tmp_path_factory.mktemp("reference") / "ref.tsv"
    assert main(certify_args(out)) == 0
    return out


def test_uninterrupted_run_follows_the_index_rule(reference: Path) -> None:
    log = read_log(reference)
    assert log.idx.tolist() == list(range(0, 2000, 200))
    assert len(set(log.extra["p_a_lower"].tolist())) > 2  # rows depend on the noise drawn
    assert (log.correct == (log.predict == log.label)).all()
    assert (log.radius[log.predict == -1] == 0).all()
    settings = json.loads(Path(f"{reference}.run.json").read_text())
    assert settings["seed"] == 7 and settings["noise"]["sigma"] == 0.5


def test_resume_after_sigkill_equals_an_uninterrupted_run(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed.tsv"
    command = [sys.executable, "-m", "ucan_core.cli", *certify_args(out)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and len(data_lines(out)) >= 2:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    written = len(data_lines(out))
    assert proc.returncode == -signal.SIGKILL and 2 <= written < 10, "not killed mid-run"
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"resuming {out}: {written} of 10 rows done")
    assert done.stderr.splitlines()[-1].startswith("certify: 10/10 rows")
    lines = data_lines(out)
    assert [int(line.split("\t")[0]) for line in lines] == list(range(0, 2000, 200))
    assert without_time(lines) == without_time(data_lines(reference))


def test_a_partly_written_chunk_is_recomputed_whole(reference: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "partial.tsv"
    shutil.copy(f"{reference}.run.json", f"{out}.run.json")
    header, *rows = reference.read_text().splitlines(keepends=True)
    # rows 0..800 complete, idx 1000 cut mid-write: chunk (800, 1000) is half written
    out.write_text(header + "".join(rows[:5]) + rows[5][:12])
    code, stdout, err = run_main(capsys, *certify_args(out))
    assert code == 0, err
    assert err.splitlines()[0] == (f"resuming {out}: 5 of 10 rows done; "
                                   "dropped a truncated last line")
    assert err.splitlines()[1].startswith("certify: 6/10 rows")
    assert without_time(data_lines(out)) == without_time(data_lines(reference))
    assert "| radius | sound | 10 |" in stdout


def test_resume_with_other_settings_is_refused(reference: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "other.tsv"
    shutil.copy(reference, out)
    shutil.copy(f"{reference}.run.json", f"{out}.run.json")
    code, _, err = run_main(capsys, *certify_args(out, "--seed", "8"))
    assert code == 2 and err.startswith("ucan: error: ") and err.count("\n") == 1
    assert "other settings (seed)" in err
    os.remove(f"{out}.run.json")
    code, _, err = run_main(capsys, *certify_args(out))
    assert code == 2 and "no other.tsv.run.json" in err
    assert out.read_text() == reference.read_text()


@needs_mnist
@pytest.mark.parametrize(("args", "message"), [
    (["--model", "mnist-gaussian-0.25"], "exactly one of --image PATH"),
    (["--model", "mnist-gaussian-0.25", "--dataset", "mnist", "--image", "x.png"],
     "exactly one of --image PATH"),
    (["--model", "mnist-gaussian-0.25", "--dataset", "mnist"], "--dataset needs --out"),
    (["--model", "mnist-gaussian-0.25", "--dataset", "cifar10", "--out", "x.tsv"],
     "model mnist-gaussian-0.25 is for mnist, not cifar10"),
    (["--model", "mnist-gaussian-0.25", "--dataset", "mnist", "--skip", "0", "--out", "x.tsv"],
     "--skip must be an integer >= 1"),
    (["--model", "mnist-gaussian-0.25", "--dataset", "mnist", "--data-root", "/nonexistent",
      "--out", "x.tsv"], "MNIST test files not found under /nonexistent"),
])
def test_certify_dataset_errors(args: list[str], message: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(capsys, "certify", *args)
    assert code == 2 and err.startswith("ucan: error: ") and err.count("\n") == 1
    assert message in err


def test_a_missing_dataset_loader_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ucan_core.io import datasets
    from ucan_core.io.runs import load_split

    monkeypatch.delattr(datasets, "load_cifar10", raising=False)
    with pytest.raises(UcanError, match="--dataset cifar10 is not available in this version"):
        load_split("cifar10", "data", "test", False)


# ---------------------------------------------------------------- Cohen's published logs


def cohen_files(kind: str) -> list[Path]:
    return sorted(p for p in (COHEN / kind).rglob("*") if p.is_file())


def independent_accuracy(path: Path, r: float, strict: bool = False) -> tuple[int, int]:
    """(#rows with correct == 1 and radius >= r, #rows), with the csv module."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    hits = sum(1 for row in rows if row["correct"] == "1"
               and (float(row["radius"]) > r if strict else float(row["radius"]) >= r))
    return hits, len(rows)


@needs_cohen
def test_all_published_logs_parse() -> None:
    certify, predict = cohen_files("certify"), cohen_files("predict")
    assert (len(certify), len(predict)) == (13, 4)  # 7 CIFAR-10 + 6 ImageNet
    for path in certify + predict:
        log = read_log(path)
        assert not log.truncated and np.isfinite(log.time).all() and (log.time > 0).all()
        assert ((log.predict == -1) <= (log.correct == 0)).all()
        rel = path.relative_to(COHEN).as_posix()
        if "cifar10" in rel:
            assert len(log) == 500 and log.idx.tolist() == list(range(0, 10_000, 20))
        elif rel.endswith("noise_0.25/test/sigma_0.25"):
            assert len(log) == 427 and log.idx.tolist() == list(range(0, 42_700, 100))
        elif "/train/" in rel:
            assert len(log) == 513 and log.idx.tolist() == list(range(0, 1_282_500, 2500))
        else:
            assert len(log) == 500 and log.idx.tolist() == list(range(0, 50_000, 100))
        if log.kind == "certify":
            assert (log.radius[log.predict == -1] == 0).all() and (log.radius >= 0).all()
    first = read_log(COHEN / "certify/cifar10/resnet110/noise_0.12/test/sigma_0.12")
    assert first.time[0] == pytest.approx(13.736080) and first.radius[1] == 0.0734
    assert read_log(COHEN / "certify/cifar10/resnet110/noise_0.25/test/sigma_0.25").time[0] == 15.4


@needs_cohen
def test_analyze_matches_an_independent_computation(capsys: pytest.CaptureFixture[str]) -> None:
    files = cohen_files("certify")
    radii = ["0", "0.25", "0.5", "0.978", "1", "1.5", "2", "3"]
    code, out, err = run_main(capsys, "analyze", *map(str, files), "--format", "json",
                              "--radii", *radii)
    assert code == 0, err
    table = json.loads(out)["rows"]
    assert [row["log"] for row in table] == list(map(str, files))
    for path, row in zip(files, table):
        assert row["measure"] == "radius"
        for r in radii:
            hits, n = independent_accuracy(path, float(r))
            assert row["rows"] == n and row[f"r={float(r):g}"] == hits / n
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        assert row["clean_accuracy"] == sum(x["correct"] == "1" for x in rows) / len(rows)
        assert row["abstain_rate"] == sum(x["predict"] == "-1" for x in rows) / len(rows)
        acr = sum(float(x["radius"]) * int(x["correct"]) for x in rows) / len(rows)
        assert row["acr"] == pytest.approx(acr, rel=1e-12)
    # the rule is >=: a correct row logged with radius exactly 0.978 counts at r = 0.978
    path = IMAGENET / "noise_0.25/test/sigma_0.25"
    assert independent_accuracy(path, 0.978) != independent_accuracy(path, 0.978, strict=True)


@needs_cohen
def test_cohen_table_1_imagenet(capsys: pytest.CaptureFixture[str]) -> None:
    """Best certified accuracy over σ ∈ {0.25, 0.5, 1.0} at r = 0.5 … 3.0 (paper: 49, 37, 29,
    19, 15, 12 %). The σ = 0.25 file has 427 rows (a truncated run); the paper's numbers
    come out of it as it is."""
    radii = ["0.5", "1", "1.5", "2", "2.5", "3"]
    files = [str(IMAGENET / f"noise_{s}/test/sigma_{s}") for s in SIGMAS]
    code, out, err = run_main(capsys, "analyze", *files, "--format", "json", "--radii", *radii)
    assert code == 0, err
    rows = json.loads(out)["rows"]
    best = [max(row[f"r={float(r):g}"] for row in rows) for r in radii]
    assert best == pytest.approx([211 / 427, 0.372, 0.286, 0.194, 0.148, 0.122], abs=1e-12)
    assert [round(100 * b) for b in best] == [49, 37, 29, 19, 15, 12]


@needs_cohen
def test_high_probability_bound(capsys: pytest.CaptureFixture[str]) -> None:
    path = IMAGENET / "noise_0.50/test/sigma_0.50"
    code, out, _ = run_main(capsys, "analyze", str(path), "--format", "csv", "--radii", "0.5",
                            "--high-prob", "0.001", "0.001")
    assert code == 0
    row = next(csv.DictReader(out.splitlines()))
    hits, n = independent_accuracy(path, 0.5)
    alpha = rho = 0.001
    expected = (hits / n - alpha - math.sqrt(alpha * (1 - alpha) * math.log(1 / rho) / n)
                - math.log(1 / rho) / (3 * n))
    assert float(row["r=0.5"]) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- ucan analyze


def test_alm_table_is_added_when_the_alm_column_differs(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "aniso.tsv"
    with LogWriter(path) as writer:
        for i, r in enumerate((0.3, 0.6, 0.0)):
            writer.write(make_row(i, r, predict=-1 if r == 0 else 3))
    code, out, _ = run_main(capsys, "analyze", str(path), "--radii", "0.3", "0.6",
                            "--format", "json")
    rows = json.loads(out)["rows"]
    assert code == 0 and [row["measure"] for row in rows] == ["radius", "alm"]
    assert rows[0]["r=0.6"] == rows[0]["r=0.3"] / 2 == 1 / 3  # radius 0.6 >= 0.6
    assert rows[1]["r=0.6"] == 1 / 3 and rows[1]["acr"] > rows[0]["acr"]
    log = read_log(path)
    assert summarize(log, [0.6], "alm").certified_accuracy == (1 / 3,)
    assert certified_accuracy(log.correct, log.radius, [0.0]).tolist() == [2 / 3]


@needs_cohen
def test_markdown_table_and_offline_plot(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "plot.html"
    files = [str(IMAGENET / f"noise_{s}/test/sigma_{s}") for s in SIGMAS]
    code, out, err = run_main(capsys, "analyze", *files, "--radii", "0", "0.5", "--plot", str(plot))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("| log | measure | soundness | rows |") and len(lines) == 5
    assert lines[2].split(" | ")[-2:] == ["0.6674", "0.4941 |"]
    html = plot.read_text()
    assert "Plotly.newPlot" in html and 'src="https://cdn' not in html
    names = [json.loads(f'"{m}"') for m in re.findall(r'"name":"((?:[^"\\]|\\.)*)"', html)]
    assert names == files  # one line per log


PREDICT_LOG = COHEN / "predict/imagenet/resnet50/noise_0.25/test/N_100"


@needs_cohen
@pytest.mark.parametrize(("content", "extra", "message"), [
    (None, [], "log not found"),
    (b"idx,label,predict,radius,correct,time\n", [], "is not a tab-separated log"),
    (b"idx\tlabel\tpredict\tradius\tcorrect\n0\t1\t1\t0.5\t1\n", [],
     "missing column(s) time"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe", [], "is not a text TSV log"),
    (b"", [], "no complete header line"),
    (b"idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\tx\n1\n", [],
     "log.tsv line 2: 2 fields for 6 columns"),
    (PREDICT_LOG, [], "is a predict log"),
    (IMAGENET / "noise_0.25/test/sigma_0.25", ["--alm"], "has no numeric alm column"),
])
def test_analyze_errors_are_one_line(content: bytes | Path | None, extra: list[str], message: str,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = content if isinstance(content, Path) else tmp_path / "log.tsv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    code, out, err = run_main(capsys, "analyze", str(path), *extra)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("ucan: error: ")
    assert message in err
