"""The bundled photo models (denoised smoothing: FFDNet → EfficientNet-Lite0 on ImageNet).

Kept fast: one photo, a handful of noise samples; the measured accuracies are in
``benchmarks/photo_models.py`` and the README, not re-measured here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ucan_core import SmoothedClassifier, UcanError, list_images, load_model, make_noise, to_tensor
from ucan_core.io.checkpoints import load_weights
from ucan_core.zoo.architectures import ARCHITECTURES, build_model
from ucan_core.zoo.denoised import DenoisedClassifier, sigma_note
from ucan_core.zoo.ffdnet import TRAINED_SIGMA_MAX
from ucan_core.zoo.paths import ASSETS_ENV, models_dir

ROOT = Path(__file__).resolve().parents[2]
ARCH = "ffdnet_efficientnet_lite0"
MODELS = ("imagenet-denoised-0.12", "imagenet-denoised-0.25")
CHAIR = "imagenet-01"  # folding chair, class 559: robust under sigma = 0.25 noise


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread here: on a loaded 2-core machine two threads mostly wait on each
    other (3-10× slower for these small batches)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model() -> DenoisedClassifier:
    return load_model("imagenet-denoised-0.25")[0]


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return to_tensor(list_images()[CHAIR].load(), ARCHITECTURES[ARCH].input_shape)


def test_cards_load_through_load_model_with_their_denoiser_level() -> None:
    for model_id in MODELS:
        net, card = load_model(model_id)
        sigma = card.noise["sigma"]
        assert card.dataset == "imagenet" and card.arch == ARCH and card.npg == "isotropic"
        assert card.noise["name"] == "gaussian" and card.noise["dim"] == 3 * 224 * 224
        assert isinstance(net, DenoisedClassifier) and not net.training
        assert net.denoiser_sigma == card.arch_config["denoiser_sigma"] == sigma <= TRAINED_SIGMA_MAX
        assert card.weights.name == "imagenet-ffdnet-efficientnet-lite0.safetensors"
        assert 0 <= card.metrics["clean_accuracy"] <= 1
        assert set(card.metrics["certified_accuracy"]) == {"0", "0.1", "0.25", "0.5"}
    arch = ARCHITECTURES[ARCH]
    assert arch.input_shape == (3, 224, 224) and arch.num_classes == len(arch.classes) == 1000
    assert arch.classes[243] == "bull mastiff" and arch.classes[999] == "toilet tissue"
    assert (models_dir() / "imagenet-ffdnet-efficientnet-lite0.safetensors").stat().st_size < 25e6


def test_the_bundled_imagenet_photos_are_labelled_with_class_names() -> None:
    photos = [img for img in list_images().values() if img.dataset == "imagenet"]
    assert len(photos) == 20
    for img in photos:
        assert img.path.is_file() and img.label_name == ARCHITECTURES[ARCH].classes[img.label]


def test_composite_is_denoiser_then_normalisation_then_classifier(model) -> None:
    # Fixed small inputs (the networks are convolutional; 64×64 keeps the test fast).
    noisy = torch.rand((3, 3, 64, 64), generator=torch.Generator().manual_seed(0)) * 1.4 - 0.2
    with torch.inference_mode():
        denoised = model.denoiser(noisy, 0.25).clamp(0, 1)
        expected = model.classifier((255 * denoised - 127) / 128)  # EfficientNet-Lite's own
        got = model(noisy)
        model.max_batch = 2  # chunked forward passes give the same logits
        chunked = model(noisy)
        model.max_batch = 16
    assert got.shape == (3, 1000)
    assert torch.allclose(got, expected, atol=1e-4) and torch.allclose(chunked, got, atol=1e-4)


def test_the_converted_weights_denoise_and_classify_a_photo(model, photo) -> None:
    # The denoiser removes most of the noise (PSNR up by > 8 dB): its channel order and noise
    # map are right; the classifier names the clean photo: its padding and normalisation are.
    noisy = photo + 0.25 * torch.randn(photo.shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        denoised = model.denoise(noisy[None])[0]
        assert int(model.classify(photo[None]).argmax()) == 559  # folding chair
    mse = lambda a: float(((a - photo) ** 2).mean())  # noqa: E731
    assert mse(denoised) < mse(noisy) / 6


def test_a_photo_certificate_carries_kind_and_soundness(model, photo) -> None:
    noise = make_noise("gaussian", 0.25, photo.numel())
    smoothed = SmoothedClassifier(model, noise, 1000)
    # Few samples (speed): a lenient alpha so that the certificate is not an abstention.
    cert = smoothed.certify(photo, n0=1, n=4, alpha=0.3, batch_size=8, seed=0)
    assert cert.kind == "exact" and cert.soundness == "sound" and cert.n == 4
    assert cert.prediction == 559 and 0.5 < cert.p_a_lower < 1 and cert.radius > 0
    assert set(cert.radii) == {"1", "2", "inf"} and cert.radii["2"].value == pytest.approx(cert.radius)


def test_cli_lists_and_certifies_a_photo() -> None:
    def ucan(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ucan_core.cli", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})  # see one_thread

    listing = ucan("models")
    assert listing.returncode == 0 and "imagenet-denoised-0.25\tffdnet_efficientnet_lite0" in listing.stdout
    run = ucan("certify", "--model", "imagenet-denoised-0.25", "--image",
               "assets/images/imagenet/imagenet_01_559.jpg", "--n0", "1", "--n", "4",
               "--batch", "8", "--alpha", "0.3", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["kind"] == "exact" and data["soundness"] == "sound"
    assert data["prediction"] == 559 and data["predicted_name"] == "folding chair"


def _weights() -> dict[str, torch.Tensor]:
    return load_file(str(models_dir() / "imagenet-ffdnet-efficientnet-lite0.safetensors"))


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.update({"denoiser.model.0.weight": torch.zeros(96, 12, 3, 3)}), "has shape"),
    (lambda s: s.pop("classifier.fc.bias"), "lacks key 'classifier.fc.bias'"),
    (lambda s: s["classifier.fc.weight"].__setitem__((0, 0), float("nan")), "NaN or infinite"),
    (lambda s: s.update({k[len("classifier."):]: s.pop(k) for k in list(s)
                         if k.startswith("classifier.")}), "does not fit the architecture"),
])
def test_tampered_or_wrong_shape_weights_are_one_line_errors(tmp_path, change, message) -> None:
    state = _weights()
    change(state)
    path = tmp_path / "photo.safetensors"
    save_file(state, str(path))
    with pytest.raises(UcanError, match=message) as error:
        load_weights(build_model(ARCH, denoiser_sigma=0.25), path)
    assert "\n" not in str(error.value)
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    with pytest.raises(UcanError, match="cannot read checkpoint photo.safetensors safely"):
        load_weights(build_model(ARCH, denoiser_sigma=0.25), path)


@pytest.mark.parametrize("sigma", [0.5, 0.3, 0.0, -0.1])
def test_a_denoiser_level_outside_ffdnets_training_range_is_refused(sigma) -> None:
    with pytest.raises(UcanError, match="outside FFDNet's training range"):
        build_model(ARCH, denoiser_sigma=sigma)
    with pytest.raises(UcanError, match="needs arch_config denoiser_sigma"):
        build_model(ARCH)


def test_a_card_above_the_denoiser_range_is_refused_and_a_mismatch_is_marked(tmp_path,
                                                                              monkeypatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    card = json.loads((models_dir() / "imagenet-denoised-0.25.json").read_text())
    card.update(id="imagenet-denoised-0.50", arch_config={"denoiser_sigma": 0.5})
    card["noise"]["sigma"] = 0.5
    (models / "imagenet-denoised-0.50.json").write_text(json.dumps(card))
    monkeypatch.setenv(ASSETS_ENV, str(tmp_path))
    with pytest.raises(UcanError, match=r"sigma=0.5 is outside FFDNet's training range \(0, 75/255"):
        load_model("imagenet-denoised-0.50")
    assert sigma_note(0.25, 0.25) is None
    assert "above FFDNet's training range" in sigma_note(0.25, 0.5)
    assert "differs from the denoiser's level" in sigma_note(0.25, 0.12)
