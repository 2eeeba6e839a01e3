"""Bad inputs: every user-facing check raises ``UcanError`` naming the argument, and the
``ucan radius`` command turns it into one ``ucan: error: …`` line and exit status 2."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.cli import main
from ucan_core.errors import UcanError
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.catalog import make_noise
from ucan_core.norms import parse_norm

SHAPE = (1, 4, 4)
DIM = 16
UCAN = Path(sys.executable).with_name("ucan")


class Constant(nn.Module):
    """Always predicts class 0 of 3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], 3)
        logits[:, 0] = 1.0
        return logits


@pytest.fixture
def smoothed() -> SmoothedClassifier:
    return SmoothedClassifier(Constant(), make_noise("gaussian", 0.25, DIM), 3)


def test_usererror_is_a_value_error() -> None:
    assert issubclass(UcanError, ValueError)


@pytest.mark.parametrize("sigma", [0, 0.0, -0.5, math.nan, math.inf, -math.inf, "0.5", None, True])
def test_bad_sigma(sigma: object) -> None:
    with pytest.raises(UcanError, match="sigma"):
        make_noise("gaussian", sigma, DIM)  # type: ignore[arg-type]


@pytest.mark.parametrize("dim", [0, -3, 2.5, True])
def test_bad_dim(dim: object) -> None:
    with pytest.raises(UcanError, match="dim"):
        make_noise("laplace", 0.5, dim)  # type: ignore[arg-type]


def test_unknown_noise_names_the_choices() -> None:
    with pytest.raises(UcanError, match=r"unknown noise 'gauss'.*gaussian"):
        make_noise("gauss", 0.5, DIM)


@pytest.mark.parametrize("name, params, message", [
    ("gaussian", {"shape": 2.0}, r"no parameter 'shape' \(parameters: none\)"),
    ("pareto", {"b": 3.0}, r"no parameter 'b' \(parameters: a\)"),
    ("gennorm", {"a": 3.0}, r"no parameter 'a' \(parameters: shape\)"),
])
def test_unknown_noise_parameter(name: str, params: dict[str, float], message: str) -> None:
    with pytest.raises(UcanError, match=message):
        make_noise(name, 0.5, DIM, **params)


@pytest.mark.parametrize("name, params, dim, argument", [
    ("pareto", {"a": 2.0}, DIM, "a must be > 2"),
    ("pareto", {"a": 1.0}, DIM, "a must be > 2"),
    ("pareto", {"a": -3.0}, DIM, "a must be > 2"),
    ("pareto", {"a": math.nan}, DIM, "parameter a must be finite"),
    ("gennorm", {"shape": 0.0}, DIM, "shape must be > 0"),
    ("gennorm", {"shape": -1.0}, DIM, "shape must be > 0"),
    ("gennorm", {"shape": math.inf}, DIM, "shape must be finite"),
    ("powinf", {"a": float(DIM + 2)}, DIM, r"a must be > d \+ 2"),
    ("powinf", {"a": 5.0}, DIM, r"a must be > d \+ 2"),
    ("expmix", {"weight": 1.5}, DIM, "weight"),
    ("expmix", {"shape1": 0.0}, DIM, "shape1"),
    ("exp2", {}, 1, "dim"),
])
def test_bad_noise_parameter_values(name: str, params: dict[str, float], dim: int,
                                    argument: str) -> None:
    with pytest.raises(UcanError, match=argument):
        make_noise(name, 0.5, dim, **params)


@pytest.mark.parametrize("norm", ["0", "-2", "abc", 0, -1.5, "", "l", "nan"])
def test_bad_norm(norm: object) -> None:
    with pytest.raises(UcanError, match="norm"):
        parse_norm(norm)
    with pytest.raises(UcanError, match="norm"):
        make_noise("gaussian", 0.5, DIM).radius(0.9, norm)  # type: ignore[arg-type]


@pytest.mark.parametrize("text, value", [("1", 1.0), ("l2", 2.0), ("inf", math.inf),
                                         ("Linf", math.inf), ("∞", math.inf), (" 1.5 ", 1.5)])
def test_good_norm_spellings(text: str, value: float) -> None:
    assert parse_norm(text) == value


@pytest.mark.parametrize("alpha", [0, 0.0, 1, 1.0, -0.1, 1.5, math.nan, math.inf])
def test_bad_alpha(smoothed: SmoothedClassifier, alpha: float) -> None:
    x = torch.full(SHAPE, 0.5)
    with pytest.raises(UcanError, match="alpha"):
        smoothed.certify(x, 10, 100, alpha)
    with pytest.raises(UcanError, match="alpha"):
        smoothed.predict(x, 100, alpha)


@pytest.mark.parametrize("n0, n, argument", [(200, 100, "n0"), (10, 0, "n must"),
                                             (0, 100, "n0"), (10, -5, "n must"),
                                             (10, 100.0, "n must"), (2.5, 100, "n0")])
def test_bad_sample_counts(smoothed: SmoothedClassifier, n0: int, n: int, argument: str) -> None:
    with pytest.raises(UcanError, match=argument):
        smoothed.certify(torch.full(SHAPE, 0.5), n0, n, 0.01)


def test_bad_batch_size_and_predict_count(smoothed: SmoothedClassifier) -> None:
    x = torch.full(SHAPE, 0.5)
    with pytest.raises(UcanError, match="batch_size"):
        smoothed.certify(x, 10, 100, 0.01, batch_size=0)
    with pytest.raises(UcanError, match="n must"):
        smoothed.predict(x, 0, 0.01)


@pytest.mark.parametrize("x", [torch.full((1, 1, 4, 5), 0.5), torch.full((2, 3, 4, 4), 0.5),
                               torch.full((1, 15), 0.5)])
def test_input_size_must_match_noise_dim(smoothed: SmoothedClassifier, x: torch.Tensor) -> None:
    with pytest.raises(UcanError, match=f"noise has dim {DIM}"):
        smoothed.certify_batch(x, 10, 100, 0.01)


def test_input_must_be_a_batch_tensor(smoothed: SmoothedClassifier) -> None:
    with pytest.raises(UcanError, match="batch"):
        smoothed.certify_batch(torch.full((DIM,), 0.5), 10, 100, 0.01)
    with pytest.raises(UcanError, match="tensor"):
        smoothed.certify_batch(np.full((1, *SHAPE), 0.5), 10, 100, 0.01)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad, message", [(math.nan, "NaN"), (math.inf, "NaN or infinite"),
                                          (1.5, r"\[0, 1\]"), (-0.01, r"\[0, 1\]"),
                                          (255.0, r"\[0, 1\]")])
def test_input_values(smoothed: SmoothedClassifier, bad: float, message: str) -> None:
    x = torch.full((1, *SHAPE), 0.5)
    x[0, 0, 1, 2] = bad
    with pytest.raises(UcanError, match=message):
        smoothed.certify_batch(x, 10, 100, 0.01)
    with pytest.raises(UcanError, match=message):
        smoothed.predict_batch(x, 100, 0.01)


def test_bad_num_classes_and_device() -> None:
    noise = make_noise("gaussian", 0.25, DIM)
    with pytest.raises(UcanError, match="num_classes"):
        SmoothedClassifier(Constant(), noise, 1)
    with pytest.raises(UcanError, match="noise is on cpu"):
        SmoothedClassifier(Constant(), noise, 3, device="meta")


@pytest.mark.parametrize("scale, message", [
    (np.zeros(DIM), "scale map must be > 0"),
    (np.r_[np.ones(DIM - 1), -1.0], "scale map must be > 0"),
    (np.r_[np.ones(DIM - 1), math.nan], "scale map contains NaN"),
    (np.r_[np.ones(DIM - 1), math.inf], "scale map contains NaN or infinite"),
    (np.ones(DIM + 1), f"scale map has {DIM + 1} entries but the noise has dim {DIM}"),
    (np.ones((2, 3)), "scale map has 6 entries"),
    (0.0, "scale map must be > 0"),
])
def test_bad_scale_map(scale: object, message: str) -> None:
    with pytest.raises(UcanError, match=message):
        AnisotropicNoise(make_noise("gaussian", 0.25, DIM), scale)  # type: ignore[arg-type]


def test_bad_shift_map() -> None:
    base = make_noise("gaussian", 0.25, DIM)
    with pytest.raises(UcanError, match="shift map contains NaN"):
        AnisotropicNoise(base, 1.0, np.r_[np.zeros(DIM - 1), math.nan])
    with pytest.raises(UcanError, match="shift map has 3 entries"):
        AnisotropicNoise(base, 1.0, np.zeros(3))


# ---------------------------------------------------------------------------------------------
# ucan radius


def radius_args(**override: str) -> list[str]:
    """Argument list of a valid ``ucan radius`` call with some options replaced."""
    options = {"--noise": "gaussian", "--sigma": "0.5", "--norm": "2", "--pa": "0.9",
               "--dim": "784", **override}
    args = ["radius"]
    for key, value in options.items():
        args.append(f"{key}={value}")
    return args


CLI_ERRORS = [
    ({"--sigma": "0"}, "sigma"), ({"--sigma": "-1"}, "sigma"), ({"--sigma": "nan"}, "sigma"),
    ({"--sigma": "inf"}, "sigma"),
    ({"--pa": "0.5"}, "--pa"), ({"--pa": "0.3"}, "--pa"), ({"--pa": "1.5"}, "--pa"),
    ({"--pa": "nan"}, "--pa"), ({"--pa": "-0.9"}, "--pa"),
    ({"--noise": "gauss"}, "unknown noise"), ({"--dim": "0"}, "dim"),
    ({"--norm": "0"}, "norm"), ({"--norm": "-2"}, "norm"), ({"--norm": "abc"}, "norm"),
    ({"--param": "shape=2"}, "no parameter 'shape'"),
    ({"--noise": "pareto", "--param": "a=2"}, "pareto a must be > 2"),
    ({"--noise": "gennorm", "--param": "shape=0"}, "shape must be > 0"),
    ({"--noise": "gennorm", "--param": "shape=-1"}, "shape must be > 0"),
    ({"--noise": "powinf", "--dim": "10", "--param": "a=12"}, r"a must be > d \+ 2"),
    ({"--noise": "pareto", "--param": "a"}, "--param takes key=value"),
    ({"--noise": "pareto", "--param": "a=x"}, "--param a needs a number"),
    ({"--noise": "cauchy", "--method": "closed"}, "no closed-form radius"),
]


@pytest.mark.parametrize("override, argument", CLI_ERRORS,
                         ids=[" ".join(f"{k}={v}" for k, v in c[0].items()) for c in CLI_ERRORS])
def test_cli_radius_errors_are_one_line(override: dict[str, str], argument: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(radius_args(**override)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ucan: error: ")
    assert argument.replace("\\", "") in lines[0]
    assert "Traceback" not in captured.err


def test_cli_negative_norm_as_separate_word(capsys: pytest.CaptureFixture[str]) -> None:
    """``--norm -2`` (a value that looks like an option) still reaches the norm check."""
    args = ["radius", "--noise", "gaussian", "--sigma", "0.5", "--pa", "0.9", "--dim", "4",
            "--norm", "-2"]
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("ucan: error: norm")


def test_cli_argparse_errors_exit_2_without_traceback() -> None:
    for bad in (["--sigma", "abc"], ["--pa", "x"], ["--dim", "1.5"]):
        args = ["radius", "--noise", "gaussian", "--sigma", "0.5", "--pa", "0.9", "--dim", "4"]
        args[args.index(bad[0]) + 1] = bad[1]
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 2


def test_cli_radius_json_happy_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(radius_args() + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["radius"] == pytest.approx(0.5 * stats.norm.ppf(0.9), rel=1e-12)
    assert data["kind"] == "exact" and data["norm"] == "2" and data["p_a"] == 0.9
    assert data["noise"]["name"] == "gaussian" and data["noise"]["dim"] == 784


def test_cli_radius_text_and_other_norm(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(radius_args(**{"--noise": "laplace", "--norm": "1", "--pa": "0.75"})) == 0
    out = capsys.readouterr().out
    expected = stats.laplace(scale=0.5 / math.sqrt(2)).ppf(0.75)
    assert out.startswith(f"{expected:.6g}  (exact, l1;")
    assert "formula:" in out


@pytest.mark.skipif(not UCAN.exists(), reason="the ucan console script is not installed")
def test_cli_subprocess_exit_codes() -> None:
    bad = subprocess.run([str(UCAN), *radius_args(**{"--sigma": "-1"})], capture_output=True,
                         text=True, timeout=120, check=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "ucan: error: sigma must be a finite number > 0, got -1.0"]
    good = subprocess.run([str(UCAN), *radius_args(), "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert good.returncode == 0
    assert json.loads(good.stdout)["radius"] == pytest.approx(0.5 * stats.norm.ppf(0.9))
