"""Garbage in is refused in one line, never certified: non-finite noise or logits, noise
parameters outside float32's exact range, broken weights, malformed model cards."""

from __future__ import annotations

import gzip
import io
import json
import logging
import math
import shutil
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from ucan_core import SmoothedClassifier, UcanError, make_noise
from ucan_core.cli import main
from ucan_core.io import datasets
from ucan_core.io.checkpoints import load_weights, save_weights
from ucan_core.io.datasets import load_cifar10, load_mnist
from ucan_core.zoo import bundled
from ucan_core.zoo.architectures import build_model
from ucan_core.zoo.paths import models_dir


@pytest.mark.parametrize(("name", "sigma", "params", "message"), [
    ("gaussian", 1e300, {}, "sigma must lie in"),
    ("gaussian", 1e39, {}, "sigma must lie in"),
    ("laplace", 1e-9, {}, "sigma must lie in"),
    ("pareto", 0.5, {"a": 1e200}, "pareto a must be <="),
    ("gennorm", 0.5, {"shape": 1e-9}, "gennorm shape must be >= 0.2"),
])
def test_noise_parameters_outside_float32_range_are_refused(name, sigma, params, message):
    with pytest.raises(UcanError, match=message):
        make_noise(name, sigma, 16, **params)


def test_pareto_with_a_large_tail_index_keeps_its_noise():
    """u^(−1/a) − 1 in float32 is 0 for 99.7 % of the coordinates at a = 10⁸; the float64
    sampler keeps every draw non-zero with the requested standard deviation."""
    noise = make_noise("pareto", 0.5, 2000, a=1e8)
    eps = noise.sample(20, torch.Generator().manual_seed(0))
    assert (eps != 0).float().mean().item() > 0.999
    assert eps.std().item() == pytest.approx(0.5, rel=0.1)


def test_a_certain_top_class_certifies_an_infinite_hyperbolic_secant_radius():
    """tan(π/2) is finite in floating point; p_A = 1 must still give +∞, not 11.88."""
    radius = make_noise("hypsecant", 0.5, 784).radius(1.0, 1)
    assert math.isinf(radius.value) and radius.kind == "exact"


class NaNModel(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 3), math.nan)


def test_non_finite_logits_abort_the_certificate():
    """argmax over NaN logits is class 0: without the check every vote went to class 0."""
    smoothed = SmoothedClassifier(NaNModel(), make_noise("gaussian", 0.5, 4), 3)
    with pytest.raises(UcanError, match="non-finite logits"):
        smoothed.certify(torch.zeros(4), 10, 20, 0.01, seed=0)


@pytest.mark.parametrize(("corrupt", "message"), [
    (lambda state, key: state.__setitem__(key, torch.full_like(state[key], math.nan)),
     "NaN or infinite"),
    (lambda state, key: state.__setitem__(key, torch.full_like(state[key], math.inf)),
     "NaN or infinite"),
    (lambda state, key: state.__setitem__(key, state[key] > 0), "holds torch.bool values"),
    (lambda state, key: state.__setitem__(key, state[key].to(torch.int64)),
     "holds torch.int64 values"),
    (lambda state, key: state.__setitem__(key, torch.zeros(7, 3)), "has shape"),
    (lambda state, key: state.pop(key), "lacks key"),
])
def test_broken_weights_are_refused_naming_the_key(tmp_path, corrupt, message):
    model = build_model("mnist_cnn")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    key = next(k for k, v in state.items() if v.dtype.is_floating_point)
    corrupt(state, key)
    path = tmp_path / "broken.safetensors"
    save_file(state, str(path))
    with pytest.raises(UcanError, match=message) as info:
        load_weights(build_model("mnist_cnn"), path)
    text = str(info.value)
    assert "\n" not in text and "broken.safetensors" in text
    if message != "lacks key":
        assert repr(key) in text


def test_good_weights_still_load(tmp_path):
    model = build_model("mnist_cnn")
    save_weights(model, tmp_path / "good.safetensors")
    loaded = load_weights(build_model("mnist_cnn"), tmp_path / "good.safetensors")
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name


BAD_CARDS = {
    "no-noise": json.dumps({"id": "no-noise", "arch": "mnist_cnn", "dataset": "mnist"}),
    "a-list": "[1, 2]",
    "not-json": "{this is not json",
    "string-sigma": json.dumps({"id": "string-sigma", "arch": "mnist_cnn", "dataset": "mnist",
                                "noise": {"name": "gaussian", "sigma": "0.25"}}),
    "bad-arch": json.dumps({"id": "bad-arch", "arch": "bogus", "dataset": "mnist",
                            "noise": {"name": "gaussian", "sigma": 0.25}}),
}


def test_a_malformed_card_is_skipped_and_the_others_keep_working(tmp_path, monkeypatch, caplog,
                                                                  capsys):
    for suffix in (".json", ".safetensors"):
        shutil.copy(models_dir() / f"mnist-gaussian-0.25{suffix}", tmp_path)
    for stem, text in BAD_CARDS.items():
        (tmp_path / f"{stem}.json").write_text(text)
    monkeypatch.setattr(bundled, "models_dir", lambda: tmp_path)
    with caplog.at_level(logging.WARNING, logger="ucan_core"):
        cards = bundled.list_models()
    assert list(cards) == ["mnist-gaussian-0.25"]
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert len(skipped) == len(BAD_CARDS) and all("\n" not in m for m in skipped)
    for stem in BAD_CARDS:
        assert any(f"{stem}.json" in m for m in skipped), stem
    model, card = bundled.load_model("mnist-gaussian-0.25")
    x = torch.zeros(1, 28, 28)
    cert = SmoothedClassifier(model, card.noise_source().at(x), 10).certify(x, 10, 50, 0.01)
    assert cert.kind == "exact" and cert.soundness == "sound"
    assert main(["models"]) == 0
    assert capsys.readouterr().out.startswith("mnist-gaussian-0.25\t")
    assert np.isfinite(cert.p_a_lower)


@pytest.mark.parametrize(("row", "message"), [
    ("0\t1\t1\tnan\t1\t0.1", "radius 'nan' is not a finite number >= 0"),
    ("0\t1\t1\tinf\t1\t0.1", "radius 'inf' is not a finite number >= 0"),
    ("0\t1\t1\t-3\t1\t0.1", "radius '-3' is not a finite number >= 0"),
    ("0\t1\t1\t" + "9" * 400 + "\t1\t0.1", "is not a finite number >= 0"),
    ("1" * 40 + "\t1\t1\t0.5\t1\t0.1", "idx '1111111111"),
    ("0\t1\t1\t0.5\t7\t0.1", "correct '7' is outside [0, 1]"),
    ("0\t1\t1\t0.5\t1\tnan", "time 'nan' is not a finite number >= 0"),
])
def test_analyze_refuses_impossible_log_values_with_the_row_number(tmp_path, capsys, row,
                                                                   message):
    log = tmp_path / "log.tsv"
    log.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n" + row + "\n")
    assert main(["analyze", str(log)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ucan: error: {log} line 2: ") and message in err
    assert err.count("\n") == 1


def _idx(shape: tuple[int, ...], values: bytes | None = None) -> bytes:
    head = bytes([0, 0, 8, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    return head + (values if values is not None else bytes(int(np.prod(shape))))


def _mnist(root, images: bytes, labels: bytes) -> None:
    (root / "t10k-images-idx3-ubyte").write_bytes(images)
    (root / "t10k-labels-idx1-ubyte").write_bytes(labels)


@pytest.mark.parametrize(("images", "labels", "message"), [
    (b"garbage, not an IDX file", _idx((3,)), "is not an unsigned-byte IDX file"),
    (gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 5), _idx((3,)), "truncated"),
    (_idx((3, 28, 28)), _idx((2,)), "3 images but 2 labels"),
    (_idx((3, 28, 28)), _idx((3,), bytes([1, 200, 3])), "label 200 is not a digit"),
    (_idx((3, 28, 27)), _idx((3,)), "expected N×28×28"),
])
def test_broken_mnist_files_are_refused_in_one_line(tmp_path, capsys, images, labels, message):
    _mnist(tmp_path, images, labels)
    with pytest.raises(UcanError, match=message):
        load_mnist(tmp_path, "test")
    code = main(["certify", "--model", "mnist-gaussian-0.25", "--dataset", "mnist",
                 "--data-root", str(tmp_path), "--out", str(tmp_path / "log.tsv"), "--n", "10",
                 "--n0", "5"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("ucan: error: ") and err.count("\n") == 1, err


def test_a_gzip_bomb_stops_at_the_size_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_DECODED_BYTES", 1 << 20)
    _mnist(tmp_path, gzip.compress(bytes(4 << 20)), _idx((3,)))
    with pytest.raises(UcanError, match="decodes to more than 1 MB"):
        load_mnist(tmp_path, "test")


def _zip(path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(("setup", "message"), [
    (lambda root: (root / "cifar10_test_10k_jpeg.zip").write_bytes(b"not a zip"),
     "is not a readable zip archive"),
    (lambda root: _zip(root / "cifar10_test_10k_jpeg.zip", {}), "holds no"),
    (lambda root: _zip(root / "cifar10_test_10k_jpeg.zip", {"test/cat/0.jpg": b"text"}),
     "is not a readable image"),
    (lambda root: _zip(root / "cifar10_test_10k_jpeg.zip", {"test/cat/0.jpg": _jpeg(64, 64)}),
     "64×64 pixels, not a CIFAR-10 image"),
    (lambda root: _zip(root / "cifar10_test_10k_jpeg.zip", {"test/cat/0.jpg": _jpeg(31, 32)}),
     "CIFAR-10 images are 32×32"),
    (lambda root: (root / "cifar-10-batches-py").mkdir(), "cannot read cifar-10-batches-py"),
])
def test_broken_cifar_sources_are_refused_in_one_line(tmp_path, monkeypatch, setup, message):
    monkeypatch.setattr(datasets, "MAX_ARCHIVE_PIXELS", 40 * 40)
    setup(tmp_path)
    with pytest.raises(UcanError, match=message) as info:
        load_cifar10(tmp_path, "test")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("1,a,b\n", "is not a CSV of numbers"),
    ("1," + ",".join(["300"] * 3072) + "\n", "outside the bytes 0-255"),
    ("1," + ",".join(["2"] * 3072) + "\n", "should have 100 rows of 3073 values"),
])
def test_a_broken_cifar_csv_is_refused(tmp_path, text, message):
    (tmp_path / "cifar10_test_first100.csv").write_text(text)
    with pytest.raises(UcanError, match=message):
        load_cifar10(tmp_path, "test100")


@pytest.mark.parametrize("text", ["[1, 2]", "null", '"x"', "3"])
def test_a_settings_file_that_is_not_an_object_is_refused(tmp_path, capsys, text):
    out = tmp_path / "log.tsv"
    (tmp_path / "log.tsv.run.json").write_text(text)
    code = main(["certify", "--model", "mnist-gaussian-0.25", "--dataset", "mnist",
                 "--data-root", "/work/shared/data/mnist", "--max", "2", "--n0", "5", "--n",
                 "10", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "is not a JSON object of settings" in err and err.count("\n") == 1


def _small_mnist(root, seed: int) -> None:
    rng = np.random.default_rng(seed)
    _mnist(root, _idx((4, 28, 28), rng.integers(0, 256, 4 * 784, dtype=np.uint8).tobytes()),
           _idx((4,), bytes([1, 2, 3, 4])))


def _certify_args(root, out) -> list[str]:
    return ["certify", "--model", "mnist-gaussian-0.25", "--dataset", "mnist", "--data-root",
            str(root), "--n0", "5", "--n", "20", "--out", str(out)]


def test_resuming_on_other_images_is_refused(tmp_path, capsys):
    """Same settings, another --data-root: the data fingerprint in LOG.run.json differs."""
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, seed in ((first, 0), (second, 1)):
        folder.mkdir()
        _small_mnist(folder, seed)
    out = tmp_path / "log.tsv"
    assert main(_certify_args(first, out)) == 0
    capsys.readouterr()
    assert main(_certify_args(second, out)) == 2
    err = capsys.readouterr().err
    assert "other settings (data_sha256)" in err and err.count("\n") == 1
    assert main(_certify_args(first, out)) == 0   # the same images resume


def test_a_second_writer_of_one_log_is_refused(tmp_path, capsys):
    from ucan_core.io.logs import LogWriter

    _small_mnist(tmp_path, 0)
    out = tmp_path / "log.tsv"
    with LogWriter(out):
        assert main(_certify_args(tmp_path, out)) == 2
    err = capsys.readouterr().err
    assert "another run is writing" in err and err.count("\n") == 1
    assert main(_certify_args(tmp_path, out)) == 0  # the lock goes with the first writer


def test_a_log_with_a_duplicate_row_or_a_device_file_is_refused(tmp_path, capsys):
    _small_mnist(tmp_path, 0)
    out = tmp_path / "log.tsv"
    assert main(_certify_args(tmp_path, out)) == 0
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:3] + [lines[1]]))
    capsys.readouterr()
    assert main(_certify_args(tmp_path, out)) == 2
    assert "holds two rows of idx 0" in capsys.readouterr().err
    assert main(_certify_args(tmp_path, "/dev/null")) == 2
    err = capsys.readouterr().err
    assert "/dev/null is not a regular file" in err and err.count("\n") == 1
