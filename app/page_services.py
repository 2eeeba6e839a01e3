"""Cached calls into the engine for the Noise Lab, Compare, Region, Noise maps, Results and
Learn pages.

Like ``app.services`` (which it builds on), nothing here does certification maths: it asks
``ucan_core`` for learned noises, regions, noise maps, log summaries and certificates, and
packs the answers for the pages and the pure figure builders.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import streamlit as st
import torch

from app import services
from app.learn_figures import Stage
from app.region_figures import RegionSlice
from ucan_core import analysis
from ucan_core.audit.slice_check import SliceCheck, check_slice
from ucan_core.certify.certificate import Certificate
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.certify.smoothed import noisy_samples as engine_noisy_samples
from ucan_core.certify.stats import clopper_pearson_lower
from ucan_core.errors import UcanError
from ucan_core.io.logs import Log, read_log
from ucan_core.labels import SOUNDNESS_NOTES
from ucan_core.noises.anisotropic import AnisotropicNoise
from ucan_core.noises.base import Noise
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.region import unit_sphere_2d
from ucan_core.norms import parse_norm
from ucan_core.npg.learned import smoothing_noise
from ucan_core.zoo.bundled import load_npg, model_card
from ucan_core.zoo.paths import assets_dir

# --------------------------------------------------------------------------------------------
# Region page

#: Grid points × d evaluated for the level sets (photos get a coarser grid), and per chunk.
DENSITY_BUDGET = 30_000_000
DENSITY_CHUNK = 2_000_000
GRID_SIZES = (41, 101)
#: The level-set grid reaches this many noise standard deviations of the wider pixel.
LEVEL_SET_REACH = 2.5
REGION_P_MAX = 0.999


def pixel_index(shape: tuple[int, int, int], channel: int, row: int, col: int) -> int:
    """Index of pixel (channel, row, col) in the flattened (C, H, W) input."""
    _, height, width = shape
    return (channel * height + row) * width + col


def _anisotropic(noise: Noise) -> AnisotropicNoise:
    return noise if isinstance(noise, AnisotropicNoise) else AnisotropicNoise(noise)


def _slice_density(noise: AnisotropicNoise, i: int, j: int, axis: np.ndarray) -> np.ndarray:
    """The noise density on the plane z = μ + t·e_i + u·e_j (rows u, columns t), divided by
    its largest value on the grid; from the engine's joint ``log_prob``."""
    t, u = np.meshgrid(axis, axis)
    points = torch.from_numpy(np.stack([t.ravel(), u.ravel()], axis=1))
    centre = noise.shift.double().cpu()
    rows = max(1, DENSITY_CHUNK // noise.dim)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(points), rows):
            chunk = points[start:start + rows]
            z = centre.repeat(len(chunk), 1)
            z[:, i], z[:, j] = chunk[:, 0], chunk[:, 1]
            parts.append(noise.log_prob(z).double())
    log_density = torch.cat(parts).numpy().reshape(t.shape)
    finite = log_density[np.isfinite(log_density)]
    peak = finite.max() if finite.size else 0.0
    return np.exp(log_density - peak)


def _reach(aniso: AnisotropicNoise, noise: Noise, p_a: float, norm: str,
           i: int, j: int) -> float:
    """Half-width of the slice: the noise's spread, widened to hold the region at ``p_a``."""
    std = aniso.std_map().double().cpu().numpy()
    scale = aniso.scale.double().cpu().numpy()
    reach = LEVEL_SET_REACH * max(std[i], std[j])
    if services.has_closed_form(noise):
        radius = aniso.region(p_a, norm).radius
        reach = max(reach, 1.15 * max(scale[i], scale[j]) * radius)
    return reach


@st.cache_data(show_spinner=False, max_entries=32)
def _density_field(choice: services.NoiseChoice, norm: str, i: int,
                   j: int) -> tuple[np.ndarray, np.ndarray]:
    """The level-set grid of the slice, on an extent that holds the region at the largest
    p_A offered (``REGION_P_MAX``), so it is computed once per noise, norm and pixel pair."""
    noise = services.build(choice)
    aniso = _anisotropic(noise)
    shift = aniso.shift.double().cpu().numpy()
    half = _reach(aniso, noise, REGION_P_MAX, norm, i, j) + max(abs(shift[i]), abs(shift[j]))
    size = int(min(GRID_SIZES[1], max(GRID_SIZES[0], math.sqrt(DENSITY_BUDGET / aniso.dim))))
    axis = np.linspace(-half, half, size)
    return axis, _slice_density(aniso, i, j, axis)


@st.cache_data(show_spinner=False, max_entries=64)
def region_slice(choice: services.NoiseChoice, p_a: float, norm: str, i: int, j: int,
                 with_density: bool = True) -> RegionSlice:
    """The certified region's slice in the (δ_i, δ_j) plane at ``p_a`` in ``norm`` with the
    ℓp ball and the ALM ball (when the noise has a closed-form radius), and optionally the
    noise density's level-set grid. Raises UcanError on a bad noise."""
    noise = services.build(choice)
    aniso = _anisotropic(noise)
    std = aniso.std_map().double().cpu().numpy()
    shift = aniso.shift.double().cpu().numpy()
    scale = aniso.scale.double().cpu().numpy()
    fields: dict[str, Any] = {}
    if services.has_closed_form(noise):
        region = aniso.region(p_a, norm)
        unit_x, unit_y = unit_sphere_2d(parse_norm(norm))
        fields = dict(radius=region.radius, radius_kind=aniso.base.radius(p_a, norm).kind,
                      kind=aniso.radius(p_a, norm).kind,
                      lp_radius=region.lp_radius, alm=region.alm, region=region.slice_2d(i, j),
                      ball=(unit_x * region.lp_radius, unit_y * region.lp_radius),
                      alm_ball=(unit_x * region.alm, unit_y * region.alm))
    if with_density:
        axis, density = _density_field(choice, norm, i, j)
        fields.update(axis=axis, density=density)
    return RegionSlice(norm=norm, scale=(float(scale[i]), float(scale[j])),
                       shift=(float(shift[i]), float(shift[j])),
                       std=(float(std[i]), float(std[j])), **fields)


# --------------------------------------------------------------------------------------------
# Region page: the empirical check (run tier, a background job of ``services``)

#: CERTIFY at the image (n0 selection, n estimation samples, level α), then PREDICT at the
#: slice's points; small on purpose, so that an MNIST check takes seconds on a CPU.
CHECK_N0, CHECK_N, CHECK_ALPHA, CHECK_BATCH, CHECK_SEED = 100, 1000, 0.001, 1000, 0


@dataclass(frozen=True)
class RegionCheckSettings(services.CertifySettings):
    """A certification of ``model_id`` smoothed with the Region page's noise at one image,
    then PREDICT with ``n_predict`` samples at ``points`` points of the region's slice through
    the flat pixels ``i`` and ``j`` in ``norm``."""

    mode: ClassVar[str] = "region-check"
    NAMES: ClassVar[dict[str, str]] = {**services.CertifySettings.NAMES, "i": "pixel A",
                                       "j": "pixel B", "points": "points",
                                       "n_predict": "PREDICT n"}
    norm: str
    i: int
    j: int
    points: int
    n_predict: int

    @property
    def samples(self) -> int:
        """Samples a check draws: CERTIFY's n0 + n, then n_predict at each point."""
        return self.n0 + self.n + self.points * self.n_predict


@dataclass(frozen=True)
class RegionCheck:
    """A finished check: the certificate at x, R in the page's norm at its p̲_A, and PREDICT
    at the slice's points (``None`` when CERTIFY abstained: no region to check)."""

    settings: RegionCheckSettings
    certificate: Certificate
    radius: float
    check: SliceCheck | None
    elapsed: float


def image_key(pixels: np.ndarray) -> str:
    """A key for the pixels themselves (bundled or uploaded alike)."""
    return "pixels:" + hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()[:20]


def check_models(choice: services.NoiseChoice) -> list[str]:
    """Bundled isotropic models that take inputs of ``choice.shape``: the density of
    ``choice`` first, then the σ nearest to its σ."""
    cards = {m: c for m, c in services.model_cards().items()
             if c.npg == "isotropic" and tuple(c.architecture.input_shape) == tuple(choice.shape)}
    return sorted(cards, key=lambda m: (cards[m].noise["name"] != choice.density,
                                        abs(float(cards[m].noise["sigma"]) - choice.sigma), m))


def start_region_check(settings: RegionCheckSettings, pixels: np.ndarray,
                       alive: Callable[[], bool] | None = None) -> services.BackgroundJob:
    """Start the check in a worker (engine calls only): CERTIFY of the model smoothed with the
    page's noise at x; if it certifies class c with p̲_A, the region {‖δ/s‖_p ≤ R(p̲_A)} in
    ``settings.norm``, and PREDICT at points of its slice (``ucan_core.slice_check``)."""
    s = settings
    card = model_card(s.model_id)
    noise = services.build(s.noise)
    classifier = SmoothedClassifier(services.model_on(s.model_id, "cpu"), noise,
                                    card.architecture.num_classes)
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))

    def task(progress: Callable[[int, int], None]) -> RegionCheck:
        began = time.perf_counter()
        cert = classifier.certify(x, s.n0, s.n, s.alpha, s.batch_size, s.seed,
                                  lambda done, _: progress(done, s.samples))
        if cert.abstained:
            return RegionCheck(s, cert, 0.0, None, time.perf_counter() - began)
        region = _anisotropic(noise).region(cert.p_a_lower, s.norm)
        check = check_slice(classifier, x, cert.prediction, region, s.i, s.j, s.points,
                            s.n_predict, s.alpha, s.batch_size, s.seed,
                            lambda done, _: progress(s.n0 + s.n + done, s.samples))
        return RegionCheck(s, cert, region.radius, check, time.perf_counter() - began)

    return services.BackgroundJob(s.key(), s.samples, task, alive).start()


# --------------------------------------------------------------------------------------------
# Noise maps page


@dataclass(frozen=True)
class NoiseMaps:
    """σ and μ maps (C, H, W, pixel units) of one smoothing noise, with its soundness tag."""

    title: str
    std_map: np.ndarray
    shift: np.ndarray
    soundness: str
    note: str
    stats: dict[str, float]


def _maps_of(noise: Noise, title: str,
             shape: tuple[int, int, int]) -> NoiseMaps:
    aniso = _anisotropic(noise)
    tag = "input-dependent" if aniso.input_dependent else "sound"
    described = aniso.describe()
    stats = {k: float(described[k]) for k in ("scale_min", "scale_max", "scale_geomean",
                                              "shift_abs_max")}
    return NoiseMaps(title, aniso.std_map().reshape(shape).cpu().numpy(),
                     aniso.shift.reshape(shape).cpu().numpy(), tag, SOUNDNESS_NOTES[tag], stats)


@st.cache_data(show_spinner=False, max_entries=32)
def fixed_maps(choice: services.NoiseChoice, title: str) -> NoiseMaps:
    """Maps of an isotropic or pattern-fixed noise (fixed maps: sound)."""
    return _maps_of(services.build(choice), title, choice.shape)


@st.cache_resource(show_spinner=False, max_entries=8)
def npg_on_cpu(model_id: str) -> torch.nn.Module:
    """A bundled model's learned NPG in eval mode on the CPU; one shared copy per process."""
    generator = load_npg(model_id, "cpu")
    if generator is None:
        raise UcanError(f"model {model_id} has no learned noise generator")
    return generator


@st.cache_data(show_spinner=False, max_entries=32)
def learned_maps(model_id: str, pixels: np.ndarray, title: str) -> NoiseMaps:
    """The maps of a bundled model's learned NPG (universal or input-dependent) on ``pixels``."""
    card = model_card(model_id)
    shape = card.architecture.input_shape
    base = make_noise(card.noise["name"], float(card.noise["sigma"]), math.prod(shape),
                      **(card.noise.get("params") or {}))
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    return _maps_of(smoothing_noise(npg_on_cpu(model_id), base, x), title, shape)


# --------------------------------------------------------------------------------------------
# Noise Lab and Compare pages: the fixed NPGs of ``services`` and the bundled learned ones

#: NPGs of the Noise Lab and Compare pages beyond ``services.NPG_OPTIONS``: the bundled
#: models' learned generators, evaluated on the current image (MNIST-shaped inputs only).
LEARNED_NPG_OPTIONS = {"universal": "learned universal (UCAN)",
                       "input-dependent": "learned input-dependent (UCAN, not sound)"}
NPG_TITLES = {**services.NPG_OPTIONS, **LEARNED_NPG_OPTIONS}


def learned_model(npg: str, sigma: float) -> str:
    """The bundled model whose ``npg`` generator was trained at the σ nearest to ``sigma``."""
    cards = {model_id: card for model_id, card in services.model_cards().items()
             if card.npg == npg}
    if not cards:
        raise UcanError(f"no bundled model with a learned {npg} noise generator")
    return min(cards, key=lambda m: (abs(float(cards[m].noise["sigma"]) - sigma), m))


@st.cache_resource(show_spinner=False, max_entries=16)
def learned_noise(choice: services.NoiseChoice, pixels: np.ndarray) -> AnisotropicNoise:
    """The chosen density and σ shaped by the maps (s, μ) that the learned generator of
    :func:`learned_model` computes for ``pixels``; UcanError for inputs it was not made for."""
    model_id = learned_model(choice.npg, choice.sigma)
    expected = model_card(model_id).architecture.input_shape
    if tuple(choice.shape) != tuple(expected):
        raise UcanError(f"the learned noise generators were trained on "
                        f"{'×'.join(map(str, expected))} MNIST digits, this image is "
                        f"{'×'.join(map(str, choice.shape))}: pick an MNIST image")
    base = make_noise(choice.density, choice.sigma, math.prod(choice.shape),
                      **dict(choice.params))
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    return smoothing_noise(npg_on_cpu(model_id), base, x)


@st.cache_data(show_spinner=False, max_entries=32)
def _learned_samples(choice: services.NoiseChoice, pixels: np.ndarray, num: int,
                     seed: int) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    return engine_noisy_samples(learned_noise(choice, pixels), x, num, seed=int(seed)).cpu().numpy()


@dataclass(frozen=True)
class NoiseView:
    """One noise on one image: the engine noise, its σ and μ maps ((C, H, W), pixel units),
    ``num`` seeded noisy samples x + μ + s ⊙ ε and the soundness tag of its certificates."""

    noise: Noise
    std_map: np.ndarray
    shift: np.ndarray
    samples: np.ndarray

    @property
    def soundness(self) -> str:
        return "input-dependent" if getattr(self.noise, "input_dependent", False) else "sound"


def noise_view(choice: services.NoiseChoice, pixels: np.ndarray, num: int,
               seed: int) -> NoiseView:
    """The noise of ``choice`` (isotropic, pattern or learned NPG) on ``pixels``, with its
    maps and samples, all cached. Raises UcanError on a bad noise."""
    if choice.npg not in LEARNED_NPG_OPTIONS:
        std_map, shift = services.noise_maps(choice)
        return NoiseView(services.build(choice), std_map, shift,
                         services.noisy_samples(choice, pixels, num, seed))
    noise = learned_noise(choice, pixels)
    return NoiseView(noise, noise.std_map().reshape(choice.shape).cpu().numpy(),
                     noise.shift.reshape(choice.shape).cpu().numpy(),
                     _learned_samples(choice, pixels, num, seed))


# --------------------------------------------------------------------------------------------
# Results page

RESULTS_DIR = assets_dir() / "results"
COHEN_DIR = assets_dir() / "cohen_logs"
MAX_LOG_BYTES = 20 * 1024 * 1024
_COHEN_NAME = re.compile(r"(?P<dataset>[a-z0-9]+)-(?P<arch>[a-z0-9]+)-noise_(?P<train>[\d.]+)"
                         r"-sigma_(?P<sigma>[\d.]+)")


@dataclass(frozen=True)
class NamedLog:
    """A parsed certify log with a display name, where it came from and its run settings."""

    name: str
    source: str
    log: Log
    settings: dict[str, Any] = field(default_factory=dict)


#: Sub-folders of assets/results with the logs of one comparison each (README sections).
RESULT_STUDIES = {"dual-rs": "Dual RS comparison", "routing": "routing comparison",
                  "copt": "C-OPT grid"}


@st.cache_data(show_spinner=False)
def bundled_logs() -> dict[str, NamedLog]:
    """This project's `ucan certify` logs with their .run.json settings: the bundled models'
    (assets/results, named by model) first, then each study's (``folder/stem``)."""
    paths = sorted(RESULTS_DIR.glob("*.tsv")) + [
        path for folder in RESULT_STUDIES for path in sorted((RESULTS_DIR / folder).glob("*.tsv"))]
    out = {}
    for path in paths:
        run = path.with_name(path.name + ".run.json")
        settings = json.loads(run.read_text()) if run.is_file() else {}
        folder = path.parent.name
        study = RESULT_STUDIES.get(folder)
        name = f"{folder}/{path.stem}" if study else str(settings.get("model", path.stem))
        source = f"ucan certify ({study})" if study else "ucan certify (this project)"
        out[name] = NamedLog(name, source, read_log(path), settings)
    return out


def cohen_label(stem: str) -> str:
    """``imagenet-resnet50-noise_0.25-sigma_0.25`` → ``Cohen ImageNet σ=0.25``."""
    match = _COHEN_NAME.fullmatch(stem)
    if match is None:
        return f"Cohen {stem}"
    title = {"cifar10": "CIFAR-10", "imagenet": "ImageNet"}.get(match["dataset"],
                                                                 match["dataset"])
    trained = "" if match["train"] == match["sigma"] else f" (trained σ={match['train']})"
    return f"Cohen {title} σ={match['sigma']}{trained}"


@st.cache_data(show_spinner=False)
def cohen_logs() -> dict[str, NamedLog]:
    """The bundled published logs of Cohen et al. (2019), assets/cohen_logs."""
    out = {}
    for path in sorted(COHEN_DIR.glob("*.tsv")):
        match = _COHEN_NAME.fullmatch(path.stem)
        settings = match.groupdict() if match else {}
        name = cohen_label(path.stem)
        out[name] = NamedLog(name, "Cohen et al. (2019), locuslab/smoothing", read_log(path),
                             settings)
    return out


@st.cache_data(show_spinner=False, max_entries=8)
def uploaded_log(data: bytes, name: str) -> NamedLog:
    """Parse an uploaded log with the engine's reader; UcanError (naming the file) if bad."""
    if len(data) > MAX_LOG_BYTES:
        raise UcanError(f"{name} is larger than {MAX_LOG_BYTES >> 20} MB")
    with tempfile.TemporaryDirectory(prefix="ucan-log-") as folder:
        path = Path(folder) / "upload.tsv"
        path.write_bytes(data)
        try:
            log = read_log(path)
        except UcanError as error:
            raise UcanError(str(error).replace(str(path), name)) from None
    if log.kind != "certify":
        raise UcanError(f"{name} is a predict log (no radius column): upload a certify log")
    if not len(log):
        raise UcanError(f"{name} has a header but no rows")
    return NamedLog(name, "upload", log)


def measures(entry: NamedLog, with_alm: bool) -> list[str]:
    """Columns to analyse: ``radius``, and ``alm`` where the log has a distinct ALM."""
    return ["radius"] + (["alm"] if with_alm and analysis.has_distinct_alm(entry.log) else [])


def accuracy_table(logs: list[NamedLog], radii: tuple[float, ...],
                   with_alm: bool) -> list[analysis.Summary]:
    """``ucan_core.analysis.summarize`` of every log (and its ALM column where asked)."""
    return [analysis.summarize(entry.log, radii, measure, name=entry.name)
            for entry in logs for measure in measures(entry, with_alm)]


def accuracy_curves(logs: list[NamedLog], with_alm: bool,
                    points: int = 401) -> tuple[np.ndarray, list[analysis.Summary]]:
    """Certified accuracy on a common radius grid (0 to 5 % past the largest radius)."""
    columns = [e.log.radius if m == "radius" else e.log.extra[m]
               for e in logs for m in measures(e, with_alm)]
    top = max((float(np.nanmax(c, initial=0.0)) for c in columns), default=0.0)
    grid = np.linspace(0.0, max(top, 1e-9) * 1.05, points)
    return grid, accuracy_table(logs, tuple(grid), with_alm)


# --------------------------------------------------------------------------------------------
# Learn page

#: The slow-motion stages before the final n.
STAGES = (10, 100, 1000)
LEARN_N0 = 100
LEARN_BATCH = 1000


def stage_sizes(final_n: int) -> list[int]:
    """n = 10 → 100 → 1,000 → final_n (stages at or above final_n dropped)."""
    return [n for n in STAGES if n < final_n] + [final_n]


@st.cache_data(show_spinner=False, max_entries=16)
def walkthrough(model_id: str, image_id: str, final_n: int, alpha: float,
                seed: int) -> list[Certificate]:
    """CERTIFY with a bundled isotropic model on a bundled image, once per stage size
    (n0 = min(100, n), same seed): the certificates of the slow-motion Monte Carlo."""
    card = model_card(model_id)
    arch = card.architecture
    x = torch.from_numpy(services.bundled_model_input(image_id, arch.input_shape).pixels)
    choice = services.NoiseChoice(card.noise["name"], float(card.noise["sigma"]),
                                  arch.input_shape)
    classifier = SmoothedClassifier(services.model_on(model_id, "cpu"), services.build(choice),
                                    arch.num_classes)
    return [classifier.certify(x, min(LEARN_N0, n), n, alpha, LEARN_BATCH, seed)
            for n in stage_sizes(final_n)]


def stage_of(cert: Certificate) -> Stage:
    """The numbers of one walk-through certificate (p_A interval from ``services``)."""
    summary = services.p_a_summary(cert)
    return Stage(n=cert.n, n0=cert.n0, counts=tuple(cert.counts), selected=summary.selected,
                 k=summary.k, p_hat=summary.p_hat, lower=cert.p_a_lower, ci_low=summary.ci_low,
                 ci_high=summary.ci_high, radius=cert.radius, abstained=cert.abstained)


def radius_cap(choice: services.NoiseChoice, n: int, alpha: float) -> tuple[float, float]:
    """The largest p̲_A that n samples can give (all n votes for ĉ_A) and its radius in the
    noise's native norm: the cap on what CERTIFY can certify at this n."""
    p_lower = clopper_pearson_lower(n, n, alpha)
    return p_lower, services.build(choice).radius(p_lower).value
