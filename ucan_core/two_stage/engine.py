"""Dual randomized smoothing (Sun, Mao & Vechev, ICLR 2026): a noise configuration chosen
per input from a finite menu, with a sound certificate.

General form (:class:`SelectAndCertify`): a selector h (one output per menu entry) is
smoothed with its own isotropic Gaussian N(0, σ_s²I), so CERTIFY bounds the ℓ2 radius R_sel
within which the smoothed selection g_sel stays constant. Each menu entry k is a FIXED
smoothed classifier g_k (a base classifier with noise that does not depend on the input,
isotropic or anisotropic μ_k + s_k ⊙ ε), certified on its region C_k. Each stage runs at
α/2, so by the union bound, with probability ≥ 1 − α the deployed classifier
x′ ↦ g_{g_sel(x′)}(x′) returns the certified class on B₂(x, R_sel) ∩ (x + C_k): on the ball
g_sel(x′) = k, and g_k is constant on x + C_k (the paper's Thm 4.1–4.2, which uses nothing
else). This holds for every σ_s; the rule σ_s ≥ max_k σ_k·(∏_i s_k,i)^{1/d} (for Dual RS
levels: σ_e ≥ max Σ) only makes sure that, at equal n and α/2, the selector's largest
certifiable radius reaches every entry's largest ℓ2 radius and ALM, so R_sel is never the
bottleneck by construction.

Dual RS (:class:`DualSmoothedClassifier`): the menu is Gaussian levels Σ, one expert per
level (or one model for all), radius min(R_σ, R_c). Routing over anisotropic UCAN
configurations is in ``ucan_core.routing``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import torch
from torch import nn

from ucan_core.certify.certificate import Certificate
from ucan_core.certify.seeds import derive_seed
from ucan_core.certify.smoothed import Noise, Progress, SmoothedClassifier
from ucan_core.checks import check_open_unit, check_positive
from ucan_core.errors import UcanError
from ucan_core.labels import Kind, Radius, Soundness
from ucan_core.noises.catalog import make_noise


@dataclass(kw_only=True)
class TwoStageCertificate:
    """What every two-stage certificate holds, in one vocabulary for Dual RS and routing.

    ``prediction`` is −1 when either stage abstains; ``radius`` = min(``r_sel``, ``r_c``) is
    the ℓ2 radius (``radii``: ℓ1/ℓ2/ℓ∞, each the smaller stage radius). The selector,
    smoothed with N(0, ``sigma_sel``²I), chose ``selected`` from ``menu`` (a σ level for
    Dual RS, a configuration name for routing; NaN / "abstain" when it abstains) with lower
    bound ``p_a_lower_sel`` and keeps that choice within ``r_sel``; ``r_c`` and
    ``p_a_lower_c`` are the classification stage's ℓ2 radius and p̲_A (0 and NaN when not
    reached). The stage certificates ``selection`` (classes = menu entries) and
    ``classification`` (None when not reached) each hold at level α/2.

    Logs and JSON keep each family's historical names (:attr:`LOG_NAMES`, e.g. Dual RS
    ``level``, ``r_sigma``): :meth:`to_dict` renames, nothing else does.
    """

    #: The audit target and log family of the certificate ("dual-rs" or "routing").
    target: ClassVar[str] = ""
    #: Field name → the name this family's logs and JSON use for it.
    LOG_NAMES: ClassVar[dict[str, str]] = {}

    prediction: int
    radius: float
    selected: Any
    menu: tuple[Any, ...]
    sigma_sel: float
    r_sel: float
    p_a_lower_sel: float
    r_c: float
    p_a_lower_c: float
    radii: dict[str, Radius]
    alpha: float
    selection: Certificate
    classification: Certificate | None
    seconds: float
    norm: str = "2"
    kind: Kind = "sound"
    soundness: Soundness = "sound"

    @property
    def abstained(self) -> bool:
        return self.prediction == SmoothedClassifier.ABSTAIN

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, named as this family's logs name them (:attr:`LOG_NAMES`)."""
        return {self.LOG_NAMES.get(k, k): v for k, v in asdict(self).items()}


def _stage_seed(seed: int | None, stage: int) -> int | None:
    """Independent seeds for the selection (stage 0) and each level's classification."""
    return None if seed is None else derive_seed(seed, stage)


def _shifted(progress: Progress | None, offset: int, total: int) -> Progress | None:
    if progress is None:
        return None
    return lambda done, _: progress(offset + done, total)


def check_menu(names: Sequence[str]) -> tuple[str, ...]:
    """The menu's entry names: at least two, all distinct."""
    values = tuple(names)
    if len(values) < 2:
        raise UcanError(f"a routing menu needs at least two configurations, got {len(values)} "
                        "(with one, use standard randomized smoothing)")
    if len(set(values)) != len(values):
        raise UcanError(f"menu configuration names must be distinct, got {list(values)}")
    return values


def menu_level(noise: Noise) -> float:
    """σ·(∏ s_i)^{1/d}: the isotropic σ whose radius equals this noise's ALM (σ if isotropic)."""
    return noise.sigma * noise.alm_factor


def check_fixed_gaussian(name: str, noise: Noise) -> Noise:
    """``noise`` if it is Gaussian-based and fixed: an input-dependent map would break the
    certificate, and the ℓ2 region ‖δ/s‖₂ ≤ R is what the selector's ball is intersected with."""
    base = noise.base
    if base.name != "gaussian":
        raise UcanError(f"menu configuration {name}: routing needs Gaussian-based noise, got "
                        f"{base.name}")
    if noise.input_dependent:
        raise UcanError(f"menu configuration {name} is input-dependent: freeze its maps into a "
                        "fixed configuration (e.g. a cluster of maps)")
    return noise


def check_sigma_s(sigma_s: float, noises: Sequence[Noise], names: Sequence[str]) -> float:
    """σ_s if it is ≥ max_k σ_k·(∏ s_k,i)^{1/d} over the menu (module docstring)."""
    sigma_s = check_positive("sigma_s", sigma_s)
    levels = [menu_level(noise) for noise in noises]
    top = int(np.argmax(levels))
    if sigma_s < levels[top]:
        raise UcanError(f"sigma_s = {sigma_s:g} is below the menu's largest geometric-mean "
                        f"noise level {levels[top]:.4g} ({names[top]}): smooth the selector "
                        "with sigma_s >= max_k sigma_k * (prod_i s_k,i)^(1/d), so that its "
                        "radius can reach every configuration's l2 radius and ALM")
    return sigma_s


def combined_radii(selection: Certificate, classification: Certificate | None) -> dict[str, Radius]:
    """ℓ1/ℓ2/ℓ∞ radii of the two-stage certificate: the smaller stage radius in each norm
    (0 when either stage abstains or was not reached)."""
    sound = classification is not None and not classification.abstained
    return {norm: Radius(min(r.value, classification.radii[norm].value) if sound else 0.0,
                         norm, "sound", f"min(R_sel, R_c), each {r.formula}")
            for norm, r in selection.radii.items()}


CertificateT = TypeVar("CertificateT")


class SelectAndCertify(Generic[CertificateT]):
    """A smoothed ``selector`` (one output per menu entry, output k ↔ ``stages[k]``) routes
    each input to one of the fixed smoothed classifiers ``stages`` (named ``names``); the
    selector is smoothed with N(0, σ_s²I), σ_s checked by :func:`check_sigma_s`. Subclasses
    turn the two stage certificates into theirs (:meth:`_combine`)."""

    def __init__(self, selector: nn.Module, stages: Sequence[SmoothedClassifier],
                 names: Sequence[str], sigma_s: float, device: str | torch.device) -> None:
        self.names = check_menu(names)
        if len(stages) != len(self.names):
            raise UcanError(f"{len(stages)} smoothed classifiers for {len(self.names)} names")
        noises = [check_fixed_gaussian(name, stage.noise) for name, stage in zip(names, stages)]
        dims = {noise.dim for noise in noises}
        if len(dims) != 1:
            raise UcanError(f"menu configurations have different input sizes {sorted(dims)}")
        self.sigma_s = check_sigma_s(sigma_s, noises, self.names)
        self.device = torch.device(device)
        self.stages = list(stages)
        self.selector = SmoothedClassifier(
            selector, make_noise("gaussian", self.sigma_s, dims.pop(), device=self.device),
            len(self.stages), self.device)

    def certify(self, x: torch.Tensor, n0: int, n: int, alpha: float, batch_size: int = 1000,
                seed: int | None = None, progress: Progress | None = None) -> CertificateT:
        """Two-stage CERTIFY for one input (shaped as one example); see :meth:`certify_batch`."""
        return self.certify_batch(x.unsqueeze(0), n0, n, alpha, batch_size, seed, progress)[0]

    def certify_batch(self, xs: torch.Tensor, n0: int, n: int, alpha: float,
                      batch_size: int = 1000, seed: int | None = None,
                      progress: Progress | None = None) -> list[CertificateT]:
        """Certify every input of ``xs``: CERTIFY of the smoothed selector at α/2 (n0, n
        samples) selects entry k and gives R_sel; CERTIFY of entry k's smoothed classifier at
        α/2 gives the class and its region. With probability ≥ 1 − α per input, the deployed
        classifier returns ``prediction`` on the intersection (module docstring).
        ``progress(done, total)`` counts samples of both stages."""
        half = check_open_unit("alpha", alpha) / 2
        began = time.perf_counter()
        total = 2 * len(xs) * (n0 + n)
        selections = self.selector.certify_batch(xs, n0, n, half, batch_size,
                                                 _stage_seed(seed, 0), _shifted(progress, 0, total))
        done = len(xs) * (n0 + n)
        classified: dict[int, Certificate] = {}
        for index, stage in enumerate(self.stages):
            members = [i for i, s in enumerate(selections) if s.prediction == index]
            if members:
                certs = stage.certify_batch(xs[members], n0, n, half, batch_size,
                                            _stage_seed(seed, 1 + index),
                                            _shifted(progress, done, total))
                classified.update(zip(members, certs))
                done += len(members) * (n0 + n)
        if progress is not None:
            progress(total, total)
        seconds = (time.perf_counter() - began) / len(xs)
        return [self._combine(s, classified.get(i), alpha, seconds)
                for i, s in enumerate(selections)]

    def _combine(self, selection: Certificate, classification: Certificate | None,
                 alpha: float, seconds: float) -> CertificateT:
        raise NotImplementedError
