"""Learned NPGs (UCAN §4.2–4.3): generator maps, joint training, shipped models, certificates."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from scipy.stats import norm

from ucan_core import UcanError, make_noise
from ucan_core.io.checkpoints import load_weights
from ucan_core.io.images import read_image, to_tensor
from ucan_core.npg.learned import (
    InputDependentNPG,
    UniversalNPG,
    build_generator,
    make_generator,
    map_statistics,
    smoothing_noise,
)
from ucan_core.training.classifier import TrainConfig
from ucan_core.training.npg import evaluate_npg, train_with_npg
from ucan_core.zoo.architectures import build_model
from ucan_core.zoo.bundled import list_images, list_models, load_model, load_npg

ROOT = Path(__file__).resolve().parents[2]
MNIST = Path("/work/shared/data/mnist")
SEVEN = ROOT / "assets/images/mnist/0000_7.png"
SHAPE = (1, 28, 28)
SHIPPED = {f"mnist-{kind}-{sigma}": kind for sigma in ("0.25", "0.50", "1.00")
           for kind in ("universal", "input-dependent")}


def generators() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [UniversalNPG(SHAPE, gamma_mu=0.3, gamma_s=2.5, s_min=0.2),
            InputDependentNPG(SHAPE, gamma_mu=0.3, gamma_s=2.5, width=4, s_min=0.2)]


def inputs() -> torch.Tensor:
    """Ordinary and extreme inputs (far outside [0, 1], to saturate the tanh)."""
    torch.manual_seed(1)
    return torch.cat([torch.rand(4, *SHAPE), torch.zeros(1, *SHAPE), torch.ones(1, *SHAPE),
                      torch.full((1, *SHAPE), 1e4), torch.full((1, *SHAPE), -1e4),
                      1e3 * torch.randn(2, *SHAPE)])


def _saturate(generator: torch.nn.Module) -> None:
    """Blow the output pre-activations up so the bounds are reached, not just approached."""
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                module.weight.mul_(50.0)
        last = [m for m in generator.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        last[-1].bias.fill_(-200.0)  # the scale net's output layer comes last: s → s_min


@pytest.mark.parametrize("index", [0, 1], ids=["universal", "input-dependent"])
def test_maps_have_the_input_shape_and_stay_in_the_documented_ranges(index: int) -> None:
    generator = generators()[index]
    x = inputs()
    for saturated in (False, True):
        if saturated:
            _saturate(generator)
        with torch.no_grad():
            scale, shift = generator(x)
        assert scale.shape == shift.shape == x.shape
        assert torch.isfinite(scale).all() and torch.isfinite(shift).all()
        assert (scale > 0).all()
        assert scale.min() >= generator.s_min * (1 - 1e-6)
        assert scale.max() <= generator.gamma_s * (1 + 1e-6)
        assert shift.abs().max() <= generator.gamma_mu * (1 + 1e-6)
    assert scale.min() == pytest.approx(generator.s_min, rel=1e-5)  # the floor is reached, > 0


def test_initial_generators_start_near_isotropic_noise_without_shift() -> None:
    for generator in generators():
        with torch.no_grad():
            scale, shift = generator(torch.rand(3, *SHAPE))
        assert (scale - 1.0).abs().max() < 0.2 and shift.abs().max() < 0.1


def test_universal_maps_are_the_same_for_every_input_and_input_dependent_ones_are_not() -> None:
    universal, dependent = generators()
    x = inputs()
    with torch.no_grad():
        s_u, m_u = universal(x)
        s_d, m_d = dependent(x)
    assert torch.equal(s_u[0], s_u[1]) and torch.equal(s_u[0], s_u[-1])
    assert torch.equal(m_u[0], m_u[-1])
    assert not torch.allclose(s_d[0], s_d[1]) and not torch.allclose(m_d[0], m_d[1])
    assert not universal.input_dependent and dependent.input_dependent


def test_input_dependent_maps_are_a_cascade_mean_first_then_scale_of_x_plus_mu() -> None:
    generator = generators()[1]
    x = torch.rand(3, *SHAPE)
    with torch.no_grad():
        scale, shift = generator(x)
        mu = 0.3 * torch.tanh(generator.mean_net(x))
        s = 0.2 + (2.5 - 0.2) * (1 + torch.tanh(generator.scale_net(x + mu))) / 2
    assert torch.allclose(shift, mu, atol=1e-6) and torch.allclose(scale, s, atol=1e-6)
    assert not torch.allclose(scale, generator.bounded_scale(generator.scale_net(x)))


def test_every_parameter_receives_a_gradient() -> None:
    for generator in generators():
        scale, shift = generator(torch.rand(2, *SHAPE))
        (scale.sum() + shift.sum()).backward()
        for name, parameter in generator.named_parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_no_batchnorm_and_batch_size_one_in_both_modes() -> None:
    for generator in generators():
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                       for m in generator.modules())
        for mode in (True, False):
            generator.train(mode)
            scale, _ = generator(torch.rand(1, *SHAPE))
            assert scale.shape == (1, *SHAPE)


def test_config_rebuilds_the_same_generator() -> None:
    for generator in generators():
        clone = build_generator(json.loads(json.dumps(generator.config())))
        assert type(clone) is type(generator)
        clone.load_state_dict(generator.state_dict())
        x = torch.rand(2, *SHAPE)
        with torch.no_grad():
            for a, b in zip(generator(x), clone(x)):
                assert torch.equal(a, b)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(UcanError, match="gamma_s"):
        UniversalNPG(SHAPE, gamma_mu=0.1, gamma_s=0.05, s_min=0.1)
    with pytest.raises(UcanError, match="s_min"):
        InputDependentNPG(SHAPE, gamma_mu=0.1, gamma_s=2.0, s_min=0.0)
    with pytest.raises(UcanError, match="unknown NPG"):
        make_generator("pattern", SHAPE, 0.1, 2.0)
    with pytest.raises(UcanError, match="shape"):
        generators()[1](torch.rand(2, 3, 28, 28))


def test_smoothing_noise_carries_the_maps_and_marks_input_dependence() -> None:
    base = make_noise("gaussian", 0.5, 784)
    x = torch.rand(*SHAPE)
    for generator in generators():
        generator.train()
        noise = smoothing_noise(generator, base, x)
        assert generator.training  # mode restored
        assert noise.input_dependent is generator.input_dependent
        assert noise.npg == ("input-dependent" if generator.input_dependent else "universal")
        with torch.no_grad():
            generator.eval()
            scale, shift = generator(x[None])
        assert torch.allclose(noise.scale, scale.flatten()) and torch.allclose(noise.shift, shift.flatten())
        draws = noise.sample(4000, torch.Generator().manual_seed(0))
        assert draws.shape == (4000, 784)
        assert torch.allclose(draws.mean(0), shift.flatten(), atol=5 * 2.5 * 0.5 / math.sqrt(4000))
    with pytest.raises(UcanError, match="shape"):
        smoothing_noise(generators()[0], base, torch.rand(1, *SHAPE))


@pytest.fixture(scope="module")
def mnist_subset() -> tuple[torch.Tensor, torch.Tensor]:
    if not MNIST.is_dir():
        pytest.skip(f"MNIST IDX files not found at {MNIST}")
    from ucan_core.io.datasets import load_mnist

    x, y = load_mnist(MNIST, "train")
    return x[:512], y[:512]


@pytest.mark.parametrize("kind", ["universal", "input-dependent"])
def test_joint_training_lowers_the_loss_and_selects_on_validation(mnist_subset, kind) -> None:
    x, y = mnist_subset
    torch.manual_seed(0)
    model = build_model("mnist_cnn")
    options = {"width": 4} if kind == "input-dependent" else {"hidden": (8, 8, 16, 16)}
    generator = make_generator(kind, SHAPE, 0.2, 2.0, **options)
    base = make_noise("gaussian", 0.5, 784)
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    result = train_with_npg(model, generator, x, y, base,
                            TrainConfig(epochs=5, batch_size=64, lr=0.05), "mean", 0.1,
                            draws=2, val_size=128, log=lambda line: None)
    assert result.train_images == 384 and result.val_images == 128
    assert len(result.losses) == len(result.validation) == 5
    assert result.smoothing_losses[-1] < 0.8 * result.smoothing_losses[0]
    assert result.losses[-1] < result.losses[0]
    objectives = [v["objective"] for v in result.validation]
    assert result.best_epoch == 1 + objectives.index(min(objectives))
    assert not model.training and not generator.training
    assert all(not torch.equal(before[k], v) for k, v in generator.state_dict().items())
    metrics = evaluate_npg(model, generator, x[-128:], y[-128:], base)
    assert metrics["noisy_accuracy"] > 0.3  # far above chance (0.1) after 384 images × 5
    assert 0.1 <= metrics["scale_min_all"] <= metrics["scale_min"] <= metrics["scale_mean"]
    assert metrics["scale_max"] <= metrics["scale_max_all"] <= 2.0 + 1e-6
    assert metrics["shift_abs_max"] <= 0.2 + 1e-6
    assert metrics["scale_mean"] > 1.0  # the variance term pushed s up from its start at 1


def test_training_rejects_bad_options(mnist_subset) -> None:
    x, y = mnist_subset
    base = make_noise("gaussian", 0.5, 784)
    args = (build_model("mnist_cnn"), generators()[0], x, y, base, TrainConfig(epochs=1))
    with pytest.raises(UcanError, match="variance loss"):
        train_with_npg(*args, variance_loss="max")
    with pytest.raises(UcanError, match="val_size"):
        train_with_npg(*args, val_size=512)
    with pytest.raises(UcanError, match="variance_weight"):
        train_with_npg(*args, variance_weight=-1.0)


# ---- shipped models ----------------------------------------------------------------------

def _shipped(model_id: str) -> None:
    if model_id not in list_models():
        pytest.fail(f"{model_id} is not in assets/models")


@pytest.mark.parametrize("model_id", list(SHIPPED))
def test_shipped_npg_models_load_from_their_cards(model_id: str) -> None:
    _shipped(model_id)
    card = list_models()[model_id]
    assert card.npg == SHIPPED[model_id]
    assert card.noise["name"] == "gaussian" and card.noise["sigma"] == float(model_id[-4:])
    config = card.npg_config
    for key in ("class", "input_shape", "gamma_mu", "gamma_s", "s_min", "variance_loss",
                "variance_weight"):
        assert key in config, key
    assert card.command.startswith("ucan train ") and f"--npg {card.npg}" in card.command
    assert card.training["validation"]["images"] == 5000
    assert card.metrics["split"] == "test" and card.metrics["images"] == 10_000
    model, _ = load_model(model_id)
    generator = load_npg(model_id)
    assert not model.training and not generator.training
    assert generator.kind == card.npg and generator.input_shape == SHAPE
    assert generator.gamma_s == config["gamma_s"] and generator.gamma_mu == config["gamma_mu"]
    path = ROOT / "assets/models" / f"{model_id}.safetensors"
    assert path.stat().st_size < 2_000_000
    with pytest.raises(UcanError, match="does not fit"):  # the file has prefixed keys only
        load_weights(build_model("mnist_cnn"), path)
    assert load_npg("mnist-gaussian-0.50") is None


@pytest.mark.parametrize("model_id", [m for m, kind in SHIPPED.items() if kind == "universal"])
def test_universal_model_maps_are_anisotropic_and_match_the_card(model_id: str) -> None:
    _shipped(model_id)
    card = list_models()[model_id]
    scale, shift = load_npg(model_id).maps()
    stats = map_statistics(scale, shift)
    assert stats["scale_max"] / stats["scale_min"] > 2  # meaningfully anisotropic
    for key, value in stats.items():
        assert card.metrics[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


@pytest.mark.parametrize("model_id", [m for m, kind in SHIPPED.items() if kind == "input-dependent"])
def test_input_dependent_model_maps_are_anisotropic_and_differ_between_images(model_id: str) -> None:
    _shipped(model_id)
    x, _ = _bundled_mnist()
    with torch.no_grad():
        scale, shift = load_npg(model_id)(x[:10])
    per_image = scale.flatten(1)
    assert (per_image.max(1).values / per_image.min(1).values).median() > 1.5
    assert not torch.allclose(scale[0], scale[1]) and not torch.allclose(shift[0], shift[1])


def _bundled_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    images = [img for img in list_images().values() if img.dataset == "mnist"]
    x = torch.stack([to_tensor(img.load(), SHAPE) for img in images])
    return x, torch.tensor([img.label for img in images])


@pytest.mark.parametrize("model_id", list(SHIPPED))
def test_stated_accuracy_holds_on_the_bundled_test_images(model_id: str) -> None:
    _shipped(model_id)
    model, card = load_model(model_id)
    generator = load_npg(model_id)
    x, y = _bundled_mnist()
    assert len(x) == 100
    base = make_noise("gaussian", card.noise["sigma"], 784)
    measured = evaluate_npg(model, generator, x, y, base, seed=3)
    for key in ("clean_accuracy", "noisy_accuracy"):
        stated = card.metrics[key]
        slack = 3.3 * math.sqrt(stated * (1 - stated) / len(x)) + 0.01  # binomial 99.9 % band
        assert abs(measured[key] - stated) <= slack, (key, measured[key], stated)


def _certify(model_id: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "ucan_core.cli", "certify", "--model", model_id,
                           "--image", str(SEVEN), "--n", "2000", "--device", "cpu", "--json"],
                          check=False, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("model_id", list(SHIPPED))
def test_certify_uses_the_npg_and_reports_soundness(model_id: str) -> None:
    _shipped(model_id)
    cert = _certify(model_id)
    kind = SHIPPED[model_id]
    assert cert["soundness"] == ("input-dependent" if kind == "input-dependent" else "sound")
    if kind == "input-dependent":
        assert "Not a certificate for the deployed classifier" in cert["note"]
    assert cert["noise"]["npg"] == kind and cert["noise"]["input_dependent"] is (kind != "universal")
    assert cert["prediction"] == 7
    generator = load_npg(model_id)
    x = to_tensor(read_image(SEVEN), SHAPE)
    with torch.no_grad():
        scale, shift = generator(x[None])
    s = scale.double().flatten()
    quantile = list_models()[model_id].noise["sigma"] * norm.ppf(cert["p_a_lower"])
    assert cert["radius"] == pytest.approx(float(s.min()) * quantile, rel=1e-5)
    assert cert["alm"] == pytest.approx(float(torch.exp(torch.log(s).mean())) * quantile, rel=1e-5)
    assert cert["noise"]["shift_abs_max"] == pytest.approx(float(shift.abs().max()), rel=1e-5)
