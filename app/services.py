"""Cached calls into the engine (``ucan_core``) for the app's pages.

Nothing here does certification maths: it builds engine objects, asks them for maps, samples
and radius curves, and caches the results per Streamlit session-independent input. Errors from
the engine are :class:`ucan_core.errors.UcanError` and are left to the page to display.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import streamlit as st
import torch
from PIL import Image

from ucan_core.anisotropic import AnisotropicNoise
from ucan_core.devices import resolve_device
from ucan_core.errors import Cancelled, UcanError, norm_label, parse_norm
from ucan_core.images import decode_image, list_images, to_tensor
from ucan_core.generators import smoothing_noise
from ucan_core.models import ModelCard, list_models, load_model, load_npg, model_card
from ucan_core.noises import NOISES, Noise, make_noise
from ucan_core.npg import build_noise
from ucan_core.smoothing import Certificate, SmoothedClassifier
from ucan_core.smoothing import noisy_samples as engine_noisy_samples
from ucan_core.stats import clopper_pearson_interval

#: Photos and uploads are worked on with their longer side at most this many pixels.
MAX_SIDE = 224
DATASET_TITLES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "photo": "Photo"}
NPG_OPTIONS = {"isotropic": "isotropic", "pattern-1": "pattern ℓ1", "pattern-2": "pattern ℓ2",
               "pattern-inf": "pattern ℓ∞"}
#: The Certify page's extra option for models trained with a learned NPG (UCAN §4.2–4.3).
LEARNED = "learned"
CERTIFY_NPG_OPTIONS = {LEARNED: "the model's learned NPG", **NPG_OPTIONS}


@dataclass(frozen=True)
class InputImage:
    """An image ready for the noise: (C, H, W) floats in [0, 1] plus where it came from."""

    pixels: np.ndarray
    name: str
    original_size: tuple[int, int]  # (width, height) as decoded

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.pixels.shape
        return int(c), int(h), int(w)

    @property
    def reduced(self) -> bool:
        return (self.shape[2], self.shape[1]) != self.original_size


def working_shape(image: Image.Image) -> tuple[int, int, int]:
    """(C, H, W) to work at: the image's own size, longer side reduced to ≤ MAX_SIDE."""
    width, height = image.size
    channels = 1 if image.mode == "L" else 3
    factor = min(1.0, MAX_SIDE / max(width, height))
    return channels, max(1, round(height * factor)), max(1, round(width * factor))


def _prepare(image: Image.Image, name: str) -> InputImage:
    pixels = to_tensor(image, working_shape(image)).numpy()
    return InputImage(pixels=pixels, name=name, original_size=image.size)


@st.cache_data(show_spinner=False)
def bundled_catalog() -> dict[str, list[tuple[str, str]]]:
    """Dataset → [(image id, display label)], in catalogue order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for image_id, image in list_images().items():
        number = image_id.rsplit("-", 1)[-1]
        label = (f"{image.label_name}" if image.dataset == "photo"
                 else f"#{number} · {image.label_name}")
        groups.setdefault(image.dataset, []).append((image_id, label))
    return groups


@st.cache_data(show_spinner=False, max_entries=64)
def bundled_image(image_id: str) -> InputImage:
    """Decode (and for photos reduce) a bundled image; cached across sessions."""
    entry = list_images()[image_id]
    return _prepare(entry.load(), f"{DATASET_TITLES.get(entry.dataset, entry.dataset)} "
                                  f"{entry.label_name} ({image_id})")


@st.cache_data(show_spinner=False, max_entries=16)
def uploaded_image(data: bytes, name: str) -> InputImage:
    """Validate and decode an upload with the engine; raises UcanError on a bad file."""
    return _prepare(decode_image(data, name), name)


@dataclass(frozen=True)
class NoiseChoice:
    """Everything that defines the noise (hashable, so it can key the caches)."""

    density: str
    sigma: float
    shape: tuple[int, int, int]
    npg: str = "isotropic"
    kappa: float = 1.0
    iota: float = 1.0
    params: tuple[tuple[str, float], ...] = ()

    @property
    def pattern_norm(self) -> str | None:
        return self.npg.split("-", 1)[1] if self.npg.startswith("pattern-") else None


@st.cache_resource(show_spinner=False, max_entries=32)
def build(choice: NoiseChoice) -> Noise | AnisotropicNoise:
    """The engine noise for ``choice`` on the CPU (isotropic, or anisotropic with a pattern
    map); cached across sessions."""
    return build_on_device(choice, "cpu")


def base_of(noise: Noise | AnisotropicNoise) -> Noise:
    return noise.base if isinstance(noise, AnisotropicNoise) else noise


@st.cache_data(show_spinner=False, max_entries=32)
def noise_maps(choice: NoiseChoice) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map), each (C, H, W) in pixel units, from the engine's anisotropic view."""
    noise = build(choice)
    if not isinstance(noise, AnisotropicNoise):
        noise = AnisotropicNoise(noise)  # s = 1, μ = 0: the isotropic maps
    return (noise.std_map().reshape(choice.shape).cpu().numpy(),
            noise.shift.reshape(choice.shape).cpu().numpy())


@st.cache_data(show_spinner=False, max_entries=32)
def noisy_samples(choice: NoiseChoice, pixels: np.ndarray, num: int, seed: int) -> np.ndarray:
    """``num`` noisy inputs x + ε (ε from the engine's seeded sampler), shape (num, C, H, W)."""
    x = torch.from_numpy(pixels)
    return engine_noisy_samples(build(choice), x, num, seed=int(seed)).cpu().numpy()


@dataclass(frozen=True)
class Curves:
    """Engine radius curves on a p_A grid for one norm, and the values at the marker."""

    norm: str
    iso_values: np.ndarray
    iso_kind: str
    iso_marker: float
    aniso_values: np.ndarray | None = None
    aniso_kind: str | None = None
    aniso_marker: float | None = None
    alm_values: np.ndarray | None = None
    alm_marker: float | None = None


def has_closed_form(noise: Noise | AnisotropicNoise) -> bool:
    return bool(base_of(noise).direct)


def radius_curves(noise: Noise | AnisotropicNoise, p_grid: np.ndarray, p_a: float,
                  norm: str) -> Curves:
    """Isotropic radius (and, for anisotropic noise, ℓp radius and ALM) from the engine."""
    base = base_of(noise)
    iso, iso_kind = base.radius_curve(p_grid, norm)
    iso_marker = base.radius(p_a, norm)
    if not isinstance(noise, AnisotropicNoise):
        return Curves(norm, iso, iso_kind, iso_marker.value)
    aniso, aniso_kind = noise.radius_curve(p_grid, norm)
    return Curves(norm, iso, iso_kind, iso_marker.value,
                  aniso_values=aniso, aniso_kind=aniso_kind,
                  aniso_marker=noise.radius(p_a, norm).value,
                  alm_values=noise.alm_curve(p_grid, norm), alm_marker=noise.alm(p_a, norm))


def direct_radii(noise: Noise | AnisotropicNoise, p_a: float) -> dict[str, float]:
    """Symbols r_1, r_2, r_inf → the base noise's closed-form radii (for conversion rules)."""
    base = base_of(noise)
    return {f"r_{norm_label(q)}": base.radius(p_a, q).value for q in base.direct}


def native_norm_label(density: str) -> str:
    native = NOISES[density].native_norm
    return norm_label(native if isinstance(native, float) else parse_norm(native))




# --------------------------------------------------------------------------------------------
# Certify page: models, model inputs, the background certification job and its cache
#
# The job runs the engine in a worker thread. The worker never calls Streamlit: it writes
# plain attributes of its CertifyJob (done/total, result, error, cancelled), and the page reads
# them from a polling fragment. Cancel is a threading.Event checked in the engine's progress
# callback, which raises ucan_core.errors.Cancelled to stop the run.


def model_cards() -> dict[str, ModelCard]:
    """The bundled models by id (small JSON cards, re-read so new models show up)."""
    return list_models()


@st.cache_resource(show_spinner=False, max_entries=8)
def model_on(model_id: str, device: str) -> torch.nn.Module:
    """A bundled model in eval mode on ``device``; one shared read-only copy per process."""
    model, _ = load_model(model_id, device)
    return model


@dataclass(frozen=True)
class ModelInput:
    """An image converted to a model's input shape (C, H, W), in [0, 1]."""

    pixels: np.ndarray
    key: str                         # "bundled:<id>" or "upload:<sha256>", + ":inverted"
    name: str
    original_size: tuple[int, int]   # (width, height) as decoded
    original_mode: str               # "L" or "RGB"
    label: str | None = None         # the true label of a bundled image

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.pixels.shape
        return int(c), int(h), int(w)

    def inverted(self) -> ModelInput:
        """The same image with dark and light swapped (1 − x)."""
        return ModelInput(1.0 - self.pixels, self.key + ":inverted", self.name + " (inverted)",
                          self.original_size, self.original_mode, self.label)


@st.cache_data(show_spinner=False, max_entries=64)
def bundled_model_input(image_id: str, shape: tuple[int, int, int]) -> ModelInput:
    """A bundled image as the model sees it (engine's ``to_tensor`` to ``shape``)."""
    entry = list_images()[image_id]
    image = entry.load()
    return ModelInput(to_tensor(image, shape).numpy(), f"bundled:{image_id}",
                      f"{DATASET_TITLES.get(entry.dataset, entry.dataset)} {entry.label_name} "
                      f"({image_id})", image.size, image.mode, entry.label_name)


@st.cache_data(show_spinner=False, max_entries=16)
def uploaded_model_input(data: bytes, name: str, shape: tuple[int, int, int]) -> ModelInput:
    """Validate an upload with the engine and convert it to ``shape``; UcanError if bad."""
    image = decode_image(data, name)
    digest = hashlib.sha256(data).hexdigest()
    return ModelInput(to_tensor(image, shape).numpy(), f"upload:{digest}", name, image.size,
                      image.mode)


@dataclass(frozen=True)
class CertifySettings:
    """Everything that determines a certificate; its :meth:`key` keys the result cache."""

    model_id: str
    image_key: str
    noise: NoiseChoice
    n0: int
    n: int
    alpha: float
    batch_size: int
    seed: int
    device: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        text = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def differences(self, other: CertifySettings) -> list[str]:
        """Names of the settings that differ from ``other`` (for the stale badge)."""
        mine, theirs = _flatten(self.as_dict()), _flatten(other.as_dict())
        names = {"image_key": "image", "model_id": "model", "noise.sigma": "σ",
                 "noise.npg": "NPG", "noise.kappa": "κ", "noise.iota": "ι",
                 "batch_size": "batch size", "alpha": "α"}
        return [names.get(k, k.removeprefix("noise.")) for k in mine if mine[k] != theirs.get(k)]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def build_on_device(choice: NoiseChoice, device: str) -> Noise | AnisotropicNoise:
    """The engine noise for ``choice`` on ``device`` (cheap; not cached)."""
    npg = {} if choice.pattern_norm is None else dict(
        npg="pattern", pattern_norm=choice.pattern_norm, kappa=choice.kappa, iota=choice.iota)
    return build_noise(choice.density, choice.sigma, choice.shape, device=device, **npg,
                       **dict(choice.params))


_JOB_IDS = itertools.count(1)


class CertifyJob:
    """One certification running in a worker thread; plain state that the page polls.

    The worker calls only the engine. Its progress callback records ``done``/``total`` and
    raises :class:`Cancelled` once :meth:`cancel` was called.
    """

    def __init__(self, settings: CertifySettings, classifier: SmoothedClassifier,
                 x: torch.Tensor, noise: Noise | AnisotropicNoise) -> None:
        self.id = next(_JOB_IDS)
        self.settings = settings
        self.key = settings.key()
        self.noise = noise
        self._classifier = classifier
        self._x = x
        self.cancel_event = threading.Event()
        self.done = 0
        self.total = settings.n0 + settings.n
        self.started = time.perf_counter()
        self.started_at = time.time()
        self.finished: float | None = None
        self.result: Certificate | None = None
        self.error: str | None = None
        self.cancelled = False
        self.integrated = False      # the page has moved the outcome into its cache
        self.thread = threading.Thread(target=self._work, name=f"certify-job-{self.id}",
                                       daemon=True)

    def start(self) -> CertifyJob:
        self.started = time.perf_counter()
        self.started_at = time.time()
        self.thread.start()
        return self

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if self.cancel_event.is_set():
            raise Cancelled()

    def _work(self) -> None:
        s = self.settings
        try:
            if self.cancel_event.is_set():
                raise Cancelled()
            self.result = self._classifier.certify(self._x, s.n0, s.n, s.alpha, s.batch_size,
                                                   s.seed, self._progress)
            self.done = self.total
        except Cancelled:
            self.cancelled = True
        except UcanError as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001 — shown to the user, not raised in a thread
            self.error = f"unexpected {type(error).__name__}: {error}"
        finally:
            self._classifier = None  # drop the model/input references
            self._x = None
            self.finished = time.perf_counter()

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def rate(self) -> float:
        """Samples per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None before the first batch)."""
        if not self.done or not self.rate:
            return None
        return max(0.0, (self.total - self.done) / self.rate)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the worker; True when it has finished."""
        self.thread.join(timeout)
        return not self.running


def start_certify_job(settings: CertifySettings, pixels: np.ndarray) -> CertifyJob:
    """Build the engine objects (errors raise UcanError here) and start the worker."""
    card = model_card(settings.model_id)
    device = str(resolve_device(settings.device))
    model = model_on(settings.model_id, device)
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    if settings.noise.npg == LEARNED:  # the model's own NPG, evaluated on this input
        choice = settings.noise
        base = make_noise(choice.density, choice.sigma, int(np.prod(choice.shape)),
                          device=device, **dict(choice.params))
        noise = smoothing_noise(load_npg(settings.model_id, device), base, x)
    else:
        noise = build_on_device(settings.noise, device)
    classifier = SmoothedClassifier(model, noise, card.architecture.num_classes, device=device)
    return CertifyJob(settings, classifier, x, noise).start()


@dataclass
class CertifyResult:
    """A finished certification as the page caches it."""

    key: str
    settings: CertifySettings
    certificate: Certificate
    noise: Noise | AnisotropicNoise
    elapsed: float          # wall time of the job, selection + estimation
    samples_per_s: float
    finished_at: float      # time.time()
    job_id: int


def result_of(job: CertifyJob) -> CertifyResult:
    assert job.result is not None
    return CertifyResult(job.key, job.settings, job.result, job.noise, job.elapsed,
                         job.total / job.elapsed if job.elapsed > 0 else float("nan"),
                         time.time(), job.id)


@dataclass(frozen=True)
class PASummary:
    """p_A of the selected class: counts, empirical frequency, the one-sided lower bound
    (used by the certificate) and the two-sided Clopper–Pearson interval at 1 − α (display)."""

    selected: int
    k: int
    n: int
    p_hat: float
    lower: float
    ci_low: float
    ci_high: float


def p_a_summary(cert: Certificate) -> PASummary:
    # ĉ_A as the engine selects it (argmax of the selection counts); the certificate's
    # prediction is −1 when it abstains, so it cannot be read from there.
    selected = int(np.argmax(np.asarray(cert.selection_counts)))
    k = int(cert.counts[selected])
    low, high = clopper_pearson_interval(k, cert.n, cert.alpha)
    return PASummary(selected, k, cert.n, k / cert.n, cert.p_a_lower, low, high)


def formula_values(cert: Certificate) -> dict[str, float]:
    """Symbols of the radius formula (σ, λ, d, p_A, parameters, min_i s_i) → numbers."""
    noise = cert.noise
    table: dict[str, float] = {"σ": float(noise["sigma"]), "λ": float(noise["lambda"]),
                               "d": float(noise["dim"]), "p_A": float(cert.p_a_lower)}
    for key, value in (noise.get("params") or {}).items():
        if len(key) == 1:
            table[key] = float(value)
    if "scale_min" in noise:
        table["min_i s_i"] = float(noise["scale_min"])
    return table


def base_radius(noise: Noise | AnisotropicNoise, p_a: float, norm: str) -> float:
    """The base (isotropic) noise's radius R at p_A, from the engine (for the ALM line)."""
    return base_of(noise).radius(p_a, norm).value


def certificate_row(result: CertifyResult, classes: tuple[str, ...]) -> dict[str, Any]:
    """One flat CSV row for a certificate and the settings that produced it."""
    cert, s = result.certificate, result.settings
    summary = p_a_summary(cert)
    row: dict[str, Any] = {
        "model": s.model_id, "image": s.image_key, "device": s.device,
        "prediction": cert.prediction,
        "prediction_name": "abstain" if cert.abstained else classes[cert.prediction],
        "selected_class": summary.selected, "p_a_hat": summary.p_hat,
        "p_a_lower": cert.p_a_lower, "ci_low": summary.ci_low, "ci_high": summary.ci_high,
        "radius": cert.radius, "norm": cert.norm, "kind": cert.kind}
    for norm, radius in cert.radii.items():
        row[f"radius_l{norm}"] = radius.value
        row[f"kind_l{norm}"] = radius.kind
    row.update({
        "alm": cert.alm, "soundness": cert.soundness, "noise": cert.noise.get("name"),
        "sigma": cert.noise.get("sigma"), "npg": s.noise.npg, "kappa": s.noise.kappa,
        "iota": s.noise.iota, "n0": cert.n0, "n": cert.n, "alpha": cert.alpha,
        "batch_size": s.batch_size, "seed": s.seed,
        "counts": " ".join(str(c) for c in cert.counts),
        "selection_counts": " ".join(str(c) for c in cert.selection_counts),
        "elapsed_s": round(result.elapsed, 4), "samples_per_s": round(result.samples_per_s, 1)})
    return row


def device_description(device: str) -> str:
    """What the device is, in words (GPU name for cuda)."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(resolved)})"
    if resolved.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} torch threads)"
