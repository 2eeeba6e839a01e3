"""The CLI's edge cases of issue #15: every bad input is one line ``ucan: error: …`` on stderr
and exit status 2 (argparse's errors included); an unbounded radius is JSON null with a
note; a run of 10¹² samples is announced with its expected time, not refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from ucan_core import UcanError
from ucan_core.certify.seeds import MAX_SEED, check_seed, derive_seed, make_rng
from ucan_core.cli import _common, main
from ucan_core.io.checkpoints import load_weights
from ucan_core.zoo.architectures import build_model

ROOT = Path(__file__).resolve().parents[2]
IMAGE = str(ROOT / "assets/images/mnist/0000_7.png")
RADIUS = ["radius", "--noise", "gaussian", "--sigma", "0.5", "--pa", "0.9", "--dim", "784"]
CONSERVATIVE = ["radius", "--noise", "cauchy", "--sigma", "0.5", "--pa", "0.9", "--dim", "784",
                "--mode", "conservative"]
IMAGE_RUN = ["certify", "--model", "mnist-gaussian-0.25", "--image", IMAGE, "--n0", "5",
             "--n", "20"]
DATASET_RUN = ["certify", "--model", "mnist-gaussian-0.25", "--dataset", "mnist", "--data-root",
               "/work/shared/data/mnist", "--max", "1", "--n0", "5", "--n", "20"]
SEED_RANGE = "argument --seed: seed must be an integer in [0, 2**64 - 1], got "


def _header_only(tmp_path) -> str:
    path = tmp_path / "header.tsv"
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n")
    return str(path)


def _long_idx(tmp_path) -> str:
    path = tmp_path / "idx.tsv"
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n" + "1" * 40 + "\t1\t1\t0.5\t1\t0.1\n")
    return str(path)


#: (id, argv or a function of tmp_path giving it, what the one line must say)
CASES = [
    ("bench --threads -1", ["bench", "--model", "mnist-gaussian-0.25", "--threads", "-1"],
     "--threads must be an integer >= 0, got -1"),
    ("train --arch bogus", ["train", "--arch", "bogus", "--noise", "gaussian", "--sigma", "0.25",
                            "--id", "x"],
     "argument --arch: invalid choice: 'bogus' (choose from 'mnist_cnn', 'cifar_resnet8'"),
    ("--param shape=1e-9", ["radius", "--noise", "gennorm", "--sigma", "0.5", "--param",
                            "shape=1e-9", "--pa", "0.9", "--dim", "784"],
     "gennorm shape must be >= 0.2, got 1e-09"),
    ("--samples 1e10", [*CONSERVATIVE, "--samples", "1e10"],
     "argument --samples: invalid int value: '1e10'"),
    ("--samples 10**10", [*CONSERVATIVE, "--samples", str(10**10)],
     "conservative_samples must be <= 3,728,270 with 24 scales: 10,000,000,000 draws need about"),
    ("universal --pa 1", [*RADIUS[:6], "1", *RADIUS[7:], "--method", "universal"],
     "p_A must lie in (1/2, 1) for the universal radius (got [1.]): the search stops at its "
     "largest scale"),
    ("--seed 2**70 --image", [*IMAGE_RUN, "--seed", str(2**70)], SEED_RANGE),
    ("--seed -1 --image", [*IMAGE_RUN, "--seed", "-1"], SEED_RANGE),
    ("--seed -1 --dataset", [*DATASET_RUN, "--out", "log.tsv", "--seed", "-1"], SEED_RANGE),
    ("--seed 2**64 --dataset", [*DATASET_RUN, "--out", "log.tsv", "--seed", str(2**64)],
     SEED_RANGE),
    ("audit --seed x", ["audit", "--seed", "x"], SEED_RANGE),
    ("analyze header-only", lambda tmp: ["analyze", _header_only(tmp)],
     "has a header but no rows: nothing to summarize"),
    ("analyze 40-digit idx", lambda tmp: ["analyze", _long_idx(tmp)], "idx '1111111111"),
    ("no command", [], "the following arguments are required: command (see `ucan --help`)"),
    ("unknown command", ["bogus"], "argument command: invalid choice: 'bogus'"),
    ("missing options", ["radius", "--noise", "gaussian"],
     "the following arguments are required: --sigma, --pa, --dim (see `ucan radius --help`)"),
    ("unknown option", [*RADIUS, "--bogus"], "unrecognized arguments: --bogus"),
    ("bad choice", [*RADIUS, "--mode", "x"], "argument --mode: invalid choice: 'x'"),
    ("bad number", [*RADIUS[:4], "abc", *RADIUS[5:]], "argument --sigma: invalid float value: 'abc'"),
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``ucan argv`` in this process (argparse exits)."""
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("argv", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_with_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(argv(tmp_path) if callable(argv) else argv, capsys)
    assert code == 2 and out == ""
    assert err.startswith("ucan: error: ") and err.count("\n") == 1, err
    assert message in err, err


def test_one_seed_rule_for_every_stream() -> None:
    assert check_seed(0) == 0 and check_seed(MAX_SEED) == 2**64 - 1
    for bad in (-1, 2**64, 2**70, 1.5, True, "3"):
        with pytest.raises(UcanError, match=r"seed must be an integer in \[0, 2\*\*64 - 1\]"):
            check_seed(bad)
    with pytest.raises(UcanError, match="seed must be"):
        make_rng(-1, "cpu")            # one image: was accepted by torch
    with pytest.raises(UcanError, match="seed must be"):
        derive_seed(-1, 0)             # a dataset chunk: was SeedSequence's traceback
    top = make_rng(MAX_SEED, "cpu")
    assert torch.rand(1, generator=top).item() != torch.rand(1, generator=make_rng(0, "cpu")).item()


def test_an_unbounded_radius_is_null_with_a_note(capsys) -> None:
    code, out, _ = _run([*RADIUS[:6], "1", *RADIUS[7:], "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["radius"] is None and data["radius_note"] == "unbounded"
    assert data["kind"] == "exact"
    code, out, err = _run([*RADIUS[:6], "1", *RADIUS[7:]], capsys)
    assert code == 0 and out.startswith("unbounded (inf)  (exact, l2;") and err == ""
    code, out, _ = _run(["radius", "--noise", "uniform", "--sigma", "0.5", "--pa", "1", "--dim",
                         "784", "--norm", "1", "--json"], capsys)
    data = json.loads(out)   # compact support: a finite radius at p_A = 1, no note
    assert code == 0 and data["radius"] == pytest.approx(0.5 * 3**0.5) and "radius_note" not in data


def test_a_huge_run_is_announced_with_its_expected_time(monkeypatch, capsys) -> None:
    clock, calls = [0.0], []
    monkeypatch.setattr(_common.time, "perf_counter", lambda: clock[0])

    def draw() -> None:  # 1,000 samples in 0.01 s of the fake clock: 10⁵ samples/s
        calls.append(1)
        clock[0] += 0.01

    _common.warn_if_long(draw, 1000, 100, 10**12, 1)
    err = capsys.readouterr().err
    assert len(calls) == 2
    assert err == ("ucan: warning: 1,000,000,000,100 noisy samples at the measured 100,000 "
                   "samples/s take about 116 days; --n 59999900 takes about 10 minutes "
                   "(Ctrl-C stops the run)\n")
    _common.warn_if_long(draw, 1000, 100, 10**7, 20, stages=2)     # two stages of 20 images
    err = capsys.readouterr().err
    assert "400,004,000 noisy samples" in err and "--n 1499900 takes about 10 minutes" in err
    _common.warn_if_long(draw, 1000, 100, 10**6 - 100, 10)   # 10⁷ samples: not even timed
    _common.warn_if_long(draw, 1000, 100, 10**7, 5)          # 500 s: timed, no warning
    assert len(calls) == 6 and capsys.readouterr().err == ""


def test_a_long_run_still_certifies_after_its_warning(monkeypatch, capsys) -> None:
    """The warning does not refuse: with the thresholds at 0 a real run warns, then runs."""
    monkeypatch.setattr(_common, "TIMED_RUN_SAMPLES", 0)
    monkeypatch.setattr(_common, "LONG_RUN_SECONDS", 0.0)
    code, out, err = _run([*IMAGE_RUN, "--json"], capsys)
    assert code == 0 and json.loads(out)["prediction"] == 7
    assert err.startswith("ucan: warning: 25 noisy samples at the measured ") and err.count("\n") == 1
    code, out, err = _run(["certify", "--dual", "mnist-sigma-estimator", "--experts",
                           "mnist-gaussian-0.25,mnist-gaussian-0.50,mnist-gaussian-1.00",
                           *IMAGE_RUN[3:], "--json"], capsys)       # Dual RS: two stages
    assert code == 0 and json.loads(out)["prediction"] == 7
    assert err.startswith("ucan: warning: 50 noisy samples at the measured ") and err.count("\n") == 1


def test_a_rejected_pickle_names_what_it_calls(tmp_path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"w": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(UcanError) as info:
        load_weights(build_model("mnist_cnn"), tmp_path / "evil.pt")
    text = str(info.value)
    assert text == ("cannot read checkpoint evil.pt safely: its pickle calls posix.system, which "
                    "a weights-only load refuses to run")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x02garbage")
    with pytest.raises(UcanError) as info:
        load_weights(build_model("mnist_cnn"), tmp_path / "junk.pt")
    assert "\n" not in str(info.value) and "weights_only" not in str(info.value)
