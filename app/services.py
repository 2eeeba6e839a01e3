"""Cached calls into the engine (``ucan_core``) for the app's pages.

Nothing here does certification maths: it builds engine objects, asks them for maps, samples
and radius curves, and caches the results per Streamlit session-independent input. Errors from
the engine are :class:`ucan_core.errors.UcanError` and are left to the page to display.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import streamlit as st
import torch
from PIL import Image
from streamlit import runtime
from streamlit.logger import get_logger
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ucan_core.audit.attack import AttackBudget
from ucan_core.audit.certificates import (
    AuditResult,
    RegionShape,
    audit_certificate,
    audit_two_stage,
    claimed_region,
)
from ucan_core.audit.deployed import DeployedSmoothing
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import Progress, SmoothedClassifier
from ucan_core.certify.smoothed import noisy_samples as engine_noisy_samples
from ucan_core.certify.stats import clopper_pearson_interval
from ucan_core.devices import resolve_device
from ucan_core.errors import Cancelled, UcanError
from ucan_core.io.images import decode_image, to_tensor
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import NOISES, make_noise
from ucan_core.norms import norm_label, parse_norm
from ucan_core.npg.learned import smoothing_noise
from ucan_core.npg.source import build_noise
from ucan_core.two_stage.dual import DualCertificate, DualSmoothedClassifier, load_dual
from ucan_core.two_stage.engine import SelectAndCertify, TwoStageCertificate
from ucan_core.two_stage.routing import RouteCertificate, RoutedSmoothedClassifier, load_router
from ucan_core.two_stage.selectors import EstimatorCard, list_estimators
from ucan_core.zoo.bundled import list_images, list_models, load_model, load_npg, model_card
from ucan_core.zoo.cards import ModelCard

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
def build(choice: NoiseChoice) -> Noise:
    """The engine noise for ``choice`` on the CPU (isotropic, or anisotropic with a pattern
    map); cached across sessions."""
    return build_on_device(choice, "cpu")


def base_of(noise: Noise) -> Noise:
    return noise.base if isinstance(noise, AnisotropicNoise) else noise


@st.cache_data(show_spinner=False, max_entries=32)
def noise_maps(choice: NoiseChoice) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map), each (C, H, W) in pixel units, from the engine's anisotropic view."""
    return maps_of(build(choice), choice.shape)


def maps_of(noise: Noise,
            shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map) of ``noise`` reshaped to ``shape``, from the engine's anisotropic view."""
    if not isinstance(noise, AnisotropicNoise):
        noise = AnisotropicNoise(noise)  # s = 1, μ = 0: the isotropic maps
    return (noise.std_map().reshape(shape).cpu().numpy(),
            noise.shift.reshape(shape).cpu().numpy())


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


def has_closed_form(noise: Noise) -> bool:
    return bool(base_of(noise).direct)


def radius_curves(noise: Noise, p_grid: np.ndarray, p_a: float,
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


def direct_radii(noise: Noise, p_a: float) -> dict[str, float]:
    """Symbols r_1, r_2, r_inf → the base noise's closed-form radii (for conversion rules)."""
    base = base_of(noise)
    return {f"r_{norm_label(q)}": base.radius(p_a, q).value for q in base.direct}


def native_norm_label(density: str) -> str:
    native = NOISES[density].native_norm
    return norm_label(native if isinstance(native, float) else parse_norm(native))




# --------------------------------------------------------------------------------------------
# Certify page: models, model inputs, the background jobs (standard, Dual RS and sound-routing
# certification, attack audit) and their caches
#
# A job runs the engine in a worker thread. The worker never calls Streamlit: it writes plain
# attributes of its BackgroundJob (done/total, result, error, cancelled), and the page reads
# them from a polling fragment. Cancel is a threading.Event checked in the engine's progress
# callback, which raises ucan_core.errors.Cancelled to stop the run; the same callback cancels
# a job whose browser session has gone (session_probe).


#: The model a page opens with: the small, strong MNIST model (bundled models sort by id).
DEFAULT_MODEL = "mnist-gaussian-0.25"
#: The Dual RS σ-estimator a fresh Certify page starts with (its experts fit the default image).
DEFAULT_ESTIMATOR = "mnist-sigma-estimator"


def default_index(ids: list[str], default: str = DEFAULT_MODEL) -> int:
    """Index of ``default`` in ``ids`` (0 if absent)."""
    return ids.index(default) if default in ids else 0


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
    dataset: str | None = None       # the dataset of a bundled image ("mnist", …)

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.pixels.shape
        return int(c), int(h), int(w)

    def inverted(self) -> ModelInput:
        """The same image with dark and light swapped (1 − x)."""
        return ModelInput(1.0 - self.pixels, self.key + ":inverted", self.name + " (inverted)",
                          self.original_size, self.original_mode, self.label, self.dataset)


@st.cache_data(show_spinner=False, max_entries=64)
def bundled_model_input(image_id: str, shape: tuple[int, int, int]) -> ModelInput:
    """A bundled image as the model sees it (engine's ``to_tensor`` to ``shape``)."""
    entry = list_images()[image_id]
    image = entry.load()
    return ModelInput(to_tensor(image, shape).numpy(), f"bundled:{image_id}",
                      f"{DATASET_TITLES.get(entry.dataset, entry.dataset)} {entry.label_name} "
                      f"({image_id})", image.size, image.mode, entry.label_name, entry.dataset)


@st.cache_data(show_spinner=False, max_entries=16)
def uploaded_model_input(data: bytes, name: str, shape: tuple[int, int, int]) -> ModelInput:
    """Validate an upload with the engine and convert it to ``shape``; UcanError if bad."""
    image = decode_image(data, name)
    digest = hashlib.sha256(data).hexdigest()
    return ModelInput(to_tensor(image, shape).numpy(), f"upload:{digest}", name, image.size,
                      image.mode)


@dataclass(frozen=True)
class _Settings:
    """The image and the sampling, shared by every mode; :meth:`key` keys the result cache
    and :meth:`differences` names what changed (for the stale badge)."""

    mode: ClassVar[str]
    NAMES: ClassVar[dict[str, str]] = {
        "image_key": "image", "model_id": "model", "noise.sigma": "σ", "noise.npg": "NPG",
        "noise.kappa": "κ", "noise.iota": "ι", "batch_size": "batch size", "alpha": "α",
        "estimator_id": "σ-estimator", "expert_ids": "experts", "selector_id": "selector"}
    image_key: str
    n0: int
    n: int
    alpha: float
    batch_size: int
    seed: int
    device: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        text = json.dumps({"mode": self.mode, **self.as_dict()}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def differences(self, other: _Settings) -> list[str]:
        """Names of the settings that differ from ``other`` (for the stale badge)."""
        if type(other) is not type(self):
            return ["mode"]
        mine, theirs = _flatten(self.as_dict()), _flatten(other.as_dict())
        return [self.NAMES.get(k, k.removeprefix("noise.")) for k in mine
                if mine[k] != theirs.get(k)]


@dataclass(frozen=True)
class CertifySettings(_Settings):
    """Everything that determines a standard certificate; :meth:`key` keys the result cache."""

    mode: ClassVar[str] = "standard"
    model_id: str
    noise: NoiseChoice

    @property
    def title(self) -> str:
        return self.model_id

    @property
    def samples(self) -> int:
        """Samples one run draws (selection and estimation)."""
        return self.n0 + self.n


@dataclass(frozen=True)
class TwoStageSettings(_Settings):
    """A two-stage certificate (``ucan_core.dual.SelectAndCertify``): a smoothed selector
    picks a menu entry, whose smoothed classifier is then certified. ``stage_tag`` names the
    selection stage's columns in the downloads; :meth:`models` are the bundled ids used."""

    stage_tag: ClassVar[str]

    @property
    def samples(self) -> int:
        """Samples one run draws: n0 + n for each of its two stages."""
        return 2 * (self.n0 + self.n)

    def models(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class DualSettings(TwoStageSettings):
    """Everything that determines a Dual RS certificate: the σ-estimator, one expert per
    level of its Σ, the image and the sampling."""

    mode: ClassVar[str] = "dual"
    stage_tag: ClassVar[str] = "sigma"
    estimator_id: str
    expert_ids: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"Dual RS: {self.estimator_id} → {', '.join(self.expert_ids)}"

    def models(self) -> dict[str, Any]:
        return {"estimator": self.estimator_id, "experts": list(self.expert_ids)}


@dataclass(frozen=True)
class RoutingSettings(TwoStageSettings):
    """Everything that determines a sound-routing certificate: the bundled selector (its
    menu of fixed configurations and their models come with it), the image and the
    sampling."""

    mode: ClassVar[str] = "routing"
    stage_tag: ClassVar[str] = "sel"
    selector_id: str

    @property
    def title(self) -> str:
        return f"Sound routing: {self.selector_id}"

    def models(self) -> dict[str, Any]:
        return {"selector": self.selector_id}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def build_on_device(choice: NoiseChoice, device: str) -> Noise:
    """The engine noise for ``choice`` on ``device`` (cheap; not cached)."""
    npg = {} if choice.pattern_norm is None else dict(
        npg="pattern", pattern_norm=choice.pattern_norm, kappa=choice.kappa, iota=choice.iota)
    return build_noise(choice.density, choice.sigma, choice.shape, device=device, **npg,
                       **dict(choice.params))


_JOB_IDS = itertools.count(1)
#: The server's log (Streamlit's console format and ``logger.level``): one line per job end.
LOG = get_logger("ucan_explorer")


def session_timeout(text: str | None, default: float = 30.0) -> float:
    """Seconds after which a job whose browser session is gone cancels itself: ``text`` (the
    environment variable UCAN_SESSION_TIMEOUT_S) if it is a number > 0, else ``default``
    (a bad value is logged, not fatal: the app must start)."""
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        LOG.warning("UCAN_SESSION_TIMEOUT_S=%r is not a number of seconds > 0; using %g s",
                    text, default)
        return default
    return value


#: A job whose browser session has been disconnected for this long cancels itself (s); the
#: environment variable UCAN_SESSION_TIMEOUT_S sets another value (the closed-tab browser test).
SESSION_TIMEOUT_S = session_timeout(os.environ.get("UCAN_SESSION_TIMEOUT_S"))


def session_probe() -> Callable[[], bool]:
    """A check, safe to call from any thread, that the calling script's browser session is
    still connected (Streamlit's runtime); always True where there is no server session
    (AppTest, plain Python)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return lambda: True
    session_id = ctx.session_id

    def alive() -> bool:
        return not runtime.exists() or bool(runtime.get_instance().is_active_session(session_id))

    return alive


class BackgroundJob:
    """One engine call (``task``) running in a worker thread; plain state that the page polls.

    The worker calls only the engine. The progress callback it hands to ``task`` records
    ``done``/``total`` and raises :class:`Cancelled` once :meth:`cancel` was called, or once
    ``alive`` (see :func:`session_probe`) has said no for ``timeout`` seconds (default
    :data:`SESSION_TIMEOUT_S`): the heartbeat is the last time the browser session was seen
    connected, so a closed tab's job stops (``abandoned``). A task without progress calls
    runs to its end.
    """

    def __init__(self, key: str, total: int, task: Callable[[Progress], Any],
                 alive: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        self.id = next(_JOB_IDS)
        self.key = key
        self.cancel_event = threading.Event()
        self.done = 0
        self.total = total
        self.started = time.perf_counter()
        self.started_at = time.time()
        self.finished: float | None = None
        self.result: Any = None
        self.error: str | None = None
        self.cancelled = False
        self.abandoned = False       # cancelled by the heartbeat: the session was gone
        self.integrated = False      # the page has moved the outcome into its cache
        self.timeout = SESSION_TIMEOUT_S if timeout is None else timeout
        self.heartbeat = time.monotonic()
        self._alive = alive or (lambda: True)
        self._task: Callable[[Progress], Any] | None = task
        self.thread = threading.Thread(target=self._work, name=f"ucan-job-{self.id}",
                                       daemon=True)

    def start(self) -> BackgroundJob:
        self.started = time.perf_counter()
        self.started_at = time.time()
        self.thread.start()
        return self

    def _check(self) -> None:
        """Refresh the heartbeat, cancel after ``timeout`` s without one, honour a cancel."""
        now = time.monotonic()
        if self._alive():
            self.heartbeat = now
        elif now - self.heartbeat > self.timeout:
            self.abandoned = True
            self.cancel_event.set()
        if self.cancel_event.is_set():
            raise Cancelled()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        self._check()

    def _work(self) -> None:
        try:
            self._check()
            assert self._task is not None
            self.result = self._task(self._progress)
            self.done = self.total
        except Cancelled:
            self.cancelled = True
        except UcanError as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001 — shown to the user, not raised in a thread
            self.error = f"unexpected {type(error).__name__}: {error}"
        finally:
            self._task = None  # drop the model/input references
            self.finished = time.perf_counter()
            self._log_end()

    def _log_end(self) -> None:
        """One line in the server log saying how the job ended and how far it got."""
        if self.abandoned:
            how = f"abandoned: its browser session was not seen for over {self.timeout:g} s"
        elif self.cancelled:
            how = "cancelled"
        elif self.error is not None:
            how = f"failed ({self.error})"
        else:
            how = "finished"
        LOG.info("%s %d %s; %s / %s done in %.1f s", type(self).__name__, self.id, how,
                 f"{self.done:,}", f"{self.total:,}", self.elapsed)

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


class CertifyJob(BackgroundJob):
    """One certification: ``classifier.certify`` (standard, Dual RS or routing) of one input
    ``x``."""

    def __init__(self, settings: CertifySettings | TwoStageSettings,
                 classifier: SmoothedClassifier | SelectAndCertify, x: torch.Tensor,
                 noise: Noise | None,
                 alive: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        s = settings
        super().__init__(settings.key(), settings.samples,
                         lambda progress: classifier.certify(x, s.n0, s.n, s.alpha, s.batch_size,
                                                             s.seed, progress),
                         alive, timeout)
        self.settings = settings
        self.noise = noise
        self.pixels = x.numpy().copy()


def estimator_cards() -> dict[str, EstimatorCard]:
    """The bundled Dual RS σ-estimators by id (``assets/models/estimators/``; the routing
    selectors stored beside them, whose cards have a ``menu``, are left out)."""
    return {k: card for k, card in list_estimators().items() if not card.menu}


def selector_cards() -> dict[str, EstimatorCard]:
    """The bundled routing selectors by id: the cards in ``assets/models/estimators/`` with a
    ``menu`` of fixed configurations."""
    return {k: card for k, card in list_estimators().items() if card.menu}


@st.cache_resource(show_spinner=False, max_entries=4)
def dual_on(estimator_id: str, expert_ids: tuple[str, ...], device: str
            ) -> DualSmoothedClassifier:
    """Dual RS from a bundled σ-estimator and one bundled expert per level, on ``device``;
    the engine refuses mismatched models with a UcanError (nothing is cached then)."""
    dual, _ = load_dual(estimator_id, list(expert_ids), device)
    return dual


@st.cache_resource(show_spinner=False, max_entries=4)
def router_on(selector_id: str, device: str) -> RoutedSmoothedClassifier:
    """The router of a bundled selector (its menu's maps and models) on ``device``."""
    router, _ = load_router(selector_id, device)
    return router


def two_stage_on(settings: TwoStageSettings, device: str) -> SelectAndCertify:
    """The cached two-stage classifier of ``settings`` on ``device``: Dual RS or a router."""
    if isinstance(settings, DualSettings):
        return dual_on(settings.estimator_id, settings.expert_ids, device)
    assert isinstance(settings, RoutingSettings)
    return router_on(settings.selector_id, device)


def check_two_stage(settings: TwoStageSettings) -> None:
    """Load (and cache) the models of ``settings``; UcanError if the engine refuses them
    (e.g. a Dual RS expert of another dataset, or with a learned NPG)."""
    two_stage_on(settings, str(resolve_device(settings.device)))


def menu_entry(selector_id: str, config: str) -> dict[str, Any]:
    """The card's description of the menu entry ``config`` of a bundled selector (name,
    model, σ, source, map statistics)."""
    return next(e for e in selector_cards()[selector_id].menu if e["name"] == config)


@st.cache_data(show_spinner=False, max_entries=32)
def route_maps(selector_id: str, config: str) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map) of the menu entry ``config`` of a bundled selector, (C, H, W)."""
    router = router_on(selector_id, "cpu")
    index = router.names.index(config)
    return maps_of(router.stages[index].noise, tuple(router.entries[index].scale.shape))


def describe_route(settings: RoutingSettings, cert: RouteCertificate) -> list[str]:
    """The routing certificate as the engine describes it (the CLI's lines)."""
    return router_on(settings.selector_id, str(resolve_device(settings.device))).describe(cert)


def start_certify_job(settings: CertifySettings | TwoStageSettings, pixels: np.ndarray,
                      alive: Callable[[], bool] | None = None) -> CertifyJob:
    """Build the engine objects (errors raise UcanError here) and start the worker."""
    device = str(resolve_device(settings.device))
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    if isinstance(settings, TwoStageSettings):
        return CertifyJob(settings, two_stage_on(settings, device), x, None, alive).start()
    card = model_card(settings.model_id)
    model = model_on(settings.model_id, device)
    if settings.noise.npg == LEARNED:  # the model's own NPG, evaluated on this input
        choice = settings.noise
        base = make_noise(choice.density, choice.sigma, int(np.prod(choice.shape)),
                          device=device, **dict(choice.params))
        noise = smoothing_noise(load_npg(settings.model_id, device), base, x)
    else:
        noise = build_on_device(settings.noise, device)
    classifier = SmoothedClassifier(model, noise, card.architecture.num_classes, device=device)
    return CertifyJob(settings, classifier, x, noise, alive).start()


@dataclass
class CertifyResult:
    """A finished certification (standard, Dual RS or routing) as the page caches it."""

    key: str
    settings: CertifySettings | TwoStageSettings
    certificate: Certificate | TwoStageCertificate
    noise: Noise | None  # None for two stages (one noise per menu entry)
    pixels: np.ndarray      # the certified input, for the audit
    elapsed: float          # wall time of the job, all stages
    samples_per_s: float
    finished_at: float      # time.time()
    job_id: int


def result_of(job: CertifyJob) -> CertifyResult:
    assert job.result is not None
    return CertifyResult(job.key, job.settings, job.result, job.noise, job.pixels, job.elapsed,
                         job.total / job.elapsed if job.elapsed > 0 else float("nan"),
                         time.time(), job.id)


# --------------------------------------------------------------------------------------------
# Attack audit of a standard, Dual RS or routing certificate, on demand (``ucan_core.audit``)

#: A small budget (seconds on a CPU for MNIST): PGD 2 × 10 steps on 16 draws, 4 random
#: boundary directions, 200 screening votes per candidate, 2,000 verification samples.
AUDIT_BUDGET = AttackBudget(steps=10, restarts=2, draws=16, directions=4, screen=200,
                            n_verify=2000)


class AuditJob(BackgroundJob):
    """The audit of one cached certificate (``target``: its result key) over ``shape``;
    ``done``/``total`` count the engine's units (PGD steps, screening, verifications) once
    it reports the first."""

    def __init__(self, key: str, target: str, shape: RegionShape, budget: AttackBudget,
                 task: Callable[[Progress], AuditResult],
                 alive: Callable[[], bool] | None = None) -> None:
        super().__init__(key, 1, task, alive)
        self.target = target
        self.shape = shape
        self.budget = budget


def audit_key(result_key: str, shape: RegionShape, budget: AttackBudget = AUDIT_BUDGET) -> str:
    """Cache key of an audit: the certificate's result key, the region and the budget."""
    text = json.dumps([result_key, shape, asdict(budget)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def start_audit_job(result: CertifyResult, shape: RegionShape,
                    budget: AttackBudget = AUDIT_BUDGET,
                    alive: Callable[[], bool] | None = None) -> AuditJob:
    """Attack ``result``'s certificate on the deployed classifier inside the region it claims
    and verify the worst candidate (:func:`audit_task`), with progress and Cancel."""
    return AuditJob(audit_key(result.key, shape, budget), result.key, shape, budget,
                    audit_task(result, shape, budget), alive).start()


def audit_task(result: CertifyResult, shape: RegionShape,
               budget: AttackBudget) -> Callable[[Progress], AuditResult]:
    """The engine call that audits ``result``'s certificate; the seed is the certificate's.

    Standard RS: the deployed smoothed classifier (an input-dependent NPG recomputes its maps
    at every attacked point) over ``"ball"`` (the ℓp ball of the certified radius) or
    ``"region"`` (the whole anisotropic region). Dual RS and routing: the deployed two-stage
    classifier, selection then classification (``audit_two_stage``), over the ℓ2 ball of
    min(R_sel, R_c), the only ``shape`` they claim."""
    s, cert = result.settings, result.certificate
    device = str(resolve_device(s.device))
    x = torch.from_numpy(result.pixels)
    if isinstance(s, TwoStageSettings):
        assert isinstance(cert, TwoStageCertificate)
        if shape != "ball":
            raise UcanError(f"a two-stage certificate claims an l2 ball, not a {shape}")
        router = two_stage_on(s, device)
        region = claimed_region(router.selector.noise, cert.radius, cert.norm)
        target = "dual-rs" if isinstance(s, DualSettings) else "routing"
        return lambda progress: audit_two_stage(
            router, x, cert.selection.prediction, cert.prediction, region, budget, seed=s.seed,
            target=target, progress=progress)
    assert isinstance(s, CertifySettings) and isinstance(cert, Certificate)
    assert result.noise is not None
    card = model_card(s.model_id)
    generator = (load_npg(s.model_id, device)
                 if s.noise.npg == LEARNED and card.npg == "input-dependent" else None)
    deployed = DeployedSmoothing(model_on(s.model_id, device), card.architecture.num_classes,
                                 result.noise, generator)
    region = claimed_region(result.noise, cert.radius, cert.norm, shape)
    return lambda progress: audit_certificate(
        deployed, x, cert.prediction, region, budget, seed=s.seed, soundness=cert.soundness,
        shape=shape, progress=progress)


@dataclass
class AuditOutcome:
    """A finished audit as the page caches it."""

    key: str
    target: str
    result: AuditResult
    budget: AttackBudget
    elapsed: float
    finished_at: float


def audit_outcome(job: AuditJob) -> AuditOutcome:
    assert job.result is not None
    return AuditOutcome(job.key, job.target, job.result, job.budget, job.elapsed, time.time())


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


def base_radius(noise: Noise, p_a: float, norm: str) -> float:
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


#: What min(R_sel, ALM) of a routing certificate is: a size of the certified set at most.
ALM_UPPER_KIND = "upper bound, not certified"


def selection_fields(cert: DualCertificate | RouteCertificate) -> dict[str, Any]:
    """The selection stage's outcome of a Dual RS or routing certificate (and, for routing,
    the ALMs), as named in the engine's certify logs."""
    record = cert.to_dict()
    if isinstance(cert, DualCertificate):
        return {name: record[name] for name in ("level", "r_sigma", "p_a_lower_sigma")}
    return {**{name: record[name] for name in ("config", "r_sel", "p_a_lower_sel", "alm",
                                              "alm_c", "alm_upper")},
            "alm_upper_kind": ALM_UPPER_KIND}


def menu_fields(cert: DualCertificate | RouteCertificate) -> dict[str, Any]:
    """The selector's menu and smoothing noise of a Dual RS or routing certificate."""
    record = cert.to_dict()
    if isinstance(cert, DualCertificate):
        return {"levels": " ".join(f"{v:g}" for v in cert.menu), "sigma_e": record["sigma_e"]}
    return {"menu": " ".join(cert.menu), "sigma_s": record["sigma_s"]}


def two_stage_row(result: CertifyResult, classes: tuple[str, ...]) -> dict[str, Any]:
    """One flat CSV row for a Dual RS or routing certificate: both stages and the settings."""
    cert, s = result.certificate, result.settings
    assert isinstance(cert, (DualCertificate, RouteCertificate))
    assert isinstance(s, TwoStageSettings)
    sel, cls, tag = cert.selection, cert.classification, s.stage_tag
    models = {k: " ".join(v) if isinstance(v, list) else v for k, v in s.models().items()}
    row: dict[str, Any] = {
        **models, "image": s.image_key, "device": s.device, "prediction": cert.prediction,
        "prediction_name": "abstain" if cert.abstained else classes[cert.prediction],
        **selection_fields(cert), "radius": cert.radius, "r_c": cert.r_c,
        "p_a_lower_c": cert.p_a_lower_c, "alpha": cert.alpha, f"alpha_{tag}": sel.alpha,
        "alpha_c": cls.alpha if cls is not None else None,
        "norm": cert.norm, "kind": cert.kind}
    for norm, radius in cert.radii.items():
        row[f"radius_l{norm}"] = radius.value
        row[f"kind_l{norm}"] = radius.kind
    row.update({
        "soundness": cert.soundness, "note": cert.note, **menu_fields(cert),
        "n0": s.n0, "n": s.n, "batch_size": s.batch_size, "seed": s.seed,
        f"counts_{tag}": " ".join(str(c) for c in sel.counts),
        "counts_c": " ".join(str(c) for c in cls.counts) if cls is not None else "",
        "elapsed_s": round(result.elapsed, 4), "samples_per_s": round(result.samples_per_s, 1)})
    return row


def two_stage_json(result: CertifyResult) -> str:
    """A Dual RS or routing certificate (both stages included) and its settings, as JSON."""
    cert, s = result.certificate, result.settings
    assert isinstance(cert, (DualCertificate, RouteCertificate))
    assert isinstance(s, TwoStageSettings)
    return json.dumps({**cert.to_dict(), **selection_fields(cert), **s.models(),
                       "image": s.image_key, "n0": s.n0, "n": s.n, "batch_size": s.batch_size,
                       "seed": s.seed, "device": s.device}, indent=2, allow_nan=True)


def device_description(device: str) -> str:
    """What the device is, in words (GPU name for cuda)."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(resolved)})"
    if resolved.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} torch threads)"
