"""Bundled models, safe checkpoint loading, and `ucan certify` / `ucan bench` on real images."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ucan_core import SmoothedClassifier, UcanError, make_noise
from ucan_core.io.checkpoints import load_weights, save_weights
from ucan_core.io.images import to_tensor
from ucan_core.zoo.architectures import build_model
from ucan_core.zoo.bundled import list_images, list_models, load_model

ROOT = Path(__file__).resolve().parents[2]
MODEL = "mnist-gaussian-0.25"
SEVEN = ROOT / "assets/images/mnist/0000_7.png"


def ucan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ucan_core.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


def test_registry_lists_the_gaussian_mnist_models_with_complete_cards() -> None:
    cards = list_models()
    for sigma in ("0.25", "0.50", "1.00"):
        card = cards[f"mnist-gaussian-{sigma}"]
        assert card.arch == "mnist_cnn" and card.dataset == "mnist"
        assert card.noise["name"] == "gaussian" and card.noise["sigma"] == float(sigma)
        assert card.command.startswith("ucan train ")
        assert card.training["seed"] == 0 and card.training["epochs"] > 0
        assert card.metrics["split"] == "test" and card.metrics["images"] == 10_000


@pytest.mark.parametrize("model_id", ["mnist-gaussian-0.25", "mnist-gaussian-0.50",
                                      "mnist-gaussian-1.00", "mnist-gaussian-levels",
                                      "cifar10-gaussian-0.25",
                                      "cifar10-gaussian-0.50", "cifar10-gaussian-1.00"])
def test_stated_accuracy_holds_on_the_bundled_test_images(model_id: str) -> None:
    model, card = load_model(model_id)
    images = [img for img in list_images().values() if img.dataset == card.dataset]
    x = torch.stack([to_tensor(img.load(), card.architecture.input_shape) for img in images])
    y = torch.tensor([img.label for img in images])
    with torch.inference_mode():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    # 100 images: a binomial 99.9 % band around the card's 10,000-image accuracy.
    stated = card.metrics["clean_accuracy"]
    slack = 3.3 * (stated * (1 - stated) / len(images)) ** 0.5 + 0.01
    assert accuracy >= stated - slack


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(UcanError, match="unknown model 'nope'"):
        load_model("nope")


def test_pickled_objects_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):  # executed only if someone unpickles it
            return (Path.write_text, (marker, "x"))

    bad = tmp_path / "evil.pt"
    with bad.open("wb") as handle:
        pickle.dump({"weight": Exploit()}, handle)
    with pytest.raises(UcanError, match="cannot read checkpoint evil.pt safely"):
        load_weights(build_model("mnist_cnn"), bad)
    assert not marker.exists()


def test_corrupt_and_mismatched_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00\x01garbage")
    with pytest.raises(UcanError, match="cannot read checkpoint corrupt.safetensors"):
        load_weights(build_model("mnist_cnn"), corrupt)
    wrong = tmp_path / "wrong.safetensors"
    save_weights(torch.nn.Linear(3, 2), wrong)
    with pytest.raises(UcanError, match="does not fit the architecture"):
        load_weights(build_model("mnist_cnn"), wrong)


def test_weights_only_torch_checkpoints_load(tmp_path: Path) -> None:
    source = build_model("mnist_cnn")
    path = tmp_path / "plain.pt"
    torch.save(source.state_dict(), path)
    loaded = load_weights(build_model("mnist_cnn"), path)
    for a, b in zip(source.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_certify_a_real_digit_in_python() -> None:
    model, card = load_model(MODEL)
    x = to_tensor(list_images()["mnist-0000"].load(), card.architecture.input_shape)
    noise = make_noise("gaussian", 0.25, 784)
    cert = SmoothedClassifier(model, noise, 10).certify(x, n0=100, n=2000, alpha=0.001, seed=0)
    assert cert.prediction == 7
    assert cert.kind == "exact" and cert.soundness == "sound"
    # radius = σ Φ⁻¹(p̲_A) and p̲_A ≤ the empirical frequency
    assert cert.p_a_lower <= cert.counts[7] / cert.n
    assert cert.radius == pytest.approx(noise.radius(cert.p_a_lower, 2).value)
    assert 0.3 < cert.radius <= 0.25 * 3.8


def test_cli_certify_json_isotropic_and_pattern() -> None:
    done = ucan("certify", "--model", MODEL, "--image", str(SEVEN), "--n", "1000", "--json")
    assert done.returncode == 0, done.stderr
    cert = json.loads(done.stdout)
    assert cert["prediction"] == 7 and cert["predicted_name"] == "7"
    assert cert["kind"] == "exact" and cert["soundness"] == "sound" and cert["norm"] == "2"
    assert set(cert["radii"]) == {"1", "2", "inf"} and cert["alm"] == cert["radius"]

    done = ucan("certify", "--model", MODEL, "--image", str(SEVEN), "--n", "1000",
                "--npg", "pattern", "--pattern-norm", "inf", "--json")
    assert done.returncode == 0, done.stderr
    aniso = json.loads(done.stdout)
    assert aniso["kind"] == "sound" and aniso["noise"]["npg"] == "pattern-linf"
    # min s_i < 1 = geometric mean: the ℓp radius is below the ALM
    assert 0 < aniso["radius"] < aniso["alm"]


@pytest.mark.parametrize("args, message", [
    (["--image", "missing.png"], "image not found"),
    (["--image", "README.md"], "not a readable PNG or JPEG"),
    (["--image", str(SEVEN), "--alpha", "1.5"], "alpha must lie in (0, 1)"),
    (["--image", str(SEVEN), "--n0", "500", "--n", "100"], "n0 (selection samples, 500) must not exceed n"),
    (["--image", str(SEVEN), "--device", "tpu"], "unknown device 'tpu'"),
    (["--image", str(SEVEN), "--noise", "gaussian", "--sigma", "nan"], "sigma must be a finite number > 0"),
])
def test_cli_certify_errors_are_one_line(args: list[str], message: str) -> None:
    done = ucan("certify", "--model", MODEL, *args)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert message in done.stderr and "Traceback" not in done.stderr


def test_cli_bench_reports_the_three_rates_side_by_side() -> None:
    done = ucan("bench", "--model", MODEL, "--n", "2000", "--batch", "500", "--repeats", "1",
                "--device", "cpu")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    rates = result["samples_per_s"]
    assert set(rates) == {"certify", "forward", "naive"} and min(rates.values()) > 0
    assert result["certify_vs_forward"] == pytest.approx(rates["certify"] / rates["forward"], rel=1e-2)
    assert result["certify_vs_naive"] == pytest.approx(rates["certify"] / rates["naive"], rel=1e-2)
