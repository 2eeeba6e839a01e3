"""The noise library: isotropic smoothing noises with one interface.

Every noise ε ∈ ℝ^d is parameterised by ``sigma``, the per-coordinate standard deviation
(σ² = E‖ε‖²/d, the rs4a convention), and derives its own scale λ(σ) from it (table in
``prior-art.md`` §2.1). Each noise offers

* ``sample(num, generator)`` — ``num`` i.i.d. draws of shape ``(num, d)`` on its device,
  reproducible through a ``torch.Generator``;
* ``log_prob(eps)`` — the normalised joint log-density, summed over the last axis;
* ``radius(p_a, norm)`` / ``radius_curve(p_a, norm)`` — the certified radius of the smoothed
  classifier for a lower bound ``p_a`` on the top-class probability (binary form
  p_B = 1 − p_A), tagged with its :data:`Kind`.

Kinds of radius:

* ``exact`` — tight: some base classifier with this p_A is fooled just beyond it;
* ``sound`` — a valid certificate that may be loose (e.g. a cross-norm conversion, or a
  lower bound from the differential method of Yang et al. 2020);
* ``approximate`` — an estimate, not a guarantee.

For a symmetric i.i.d. log-concave marginal F the ℓ1 radius is the 1-D quantile F⁻¹(p_A),
and it is exact: the differential method's worst direction over the ℓ1 ball is an axis
(the directional derivative is linear in the direction, so its maximum over the
cross-polytope is at a vertex; log-concavity makes the Neyman–Pearson set a half-space),
and along an axis the 1-D Neyman–Pearson radius is exactly F⁻¹(p_A).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from scipy import special, stats

from ucan_core.errors import UcanError, check_count, check_positive, norm_label, parse_norm

Kind = Literal["exact", "sound", "approximate"]
KINDS: tuple[Kind, ...] = ("exact", "sound", "approximate")
STANDARD_NORMS: tuple[float, ...] = (1.0, 2.0, math.inf)
_LOG_2 = math.log(2.0)


@dataclass(frozen=True)
class Radius:
    """A certified radius in one ℓp norm, with what kind of statement it is."""

    value: float
    norm: str
    kind: Kind
    formula: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def standard_gamma(concentration: float, size: int, generator: torch.Generator | None,
                   device: torch.device) -> torch.Tensor:
    """Gamma(concentration, 1) draws by Marsaglia–Tsang, seeded by ``generator`` (float64).

    ``torch.distributions.Gamma`` cannot take a generator, so seeded sampling needs this.
    Shapes below 1 use the boost G(a) = G(a + 1)·U^{1/a}.
    """
    a = concentration + 1.0 if concentration < 1.0 else concentration
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(size, dtype=torch.float64, device=device)
    todo = torch.arange(size, device=device)
    while todo.numel():
        m = todo.numel()
        x = torch.randn(m, dtype=torch.float64, device=device, generator=generator)
        u = torch.rand(m, dtype=torch.float64, device=device, generator=generator)
        v = (1.0 + c * x) ** 3
        ok = (v > 0) & (torch.log(u) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        out[todo[ok]] = d * v[ok]
        todo = todo[~ok]
    if concentration < 1.0:
        u = torch.rand(size, dtype=torch.float64, device=device, generator=generator)
        out = out * u ** (1.0 / concentration)
    return out


def _uniform(num: int, dim: int, generator: torch.Generator | None, device: torch.device,
             low: float = 0.0) -> torch.Tensor:
    """U(low, 1) draws of shape (num, dim); ``low`` keeps logs and inverses finite."""
    u = torch.rand(num, dim, device=device, generator=generator)
    return u.clamp_min(low) if low else u


def _random_sign(num: int, dim: int, generator: torch.Generator | None,
                 device: torch.device) -> torch.Tensor:
    bits = torch.randint(0, 2, (num, dim), device=device, generator=generator)
    return bits.to(torch.float32) * 2.0 - 1.0


def _cube_surface(num: int, dim: int, generator: torch.Generator | None,
                  device: torch.device) -> torch.Tensor:
    """Uniform points on the surface of [−1, 1]^d: one face coordinate ±1, the rest U(−1, 1)."""
    u = torch.rand(num, dim, device=device, generator=generator) * 2.0 - 1.0
    face = torch.randint(0, dim, (num,), device=device, generator=generator)
    sign = _random_sign(num, 1, generator, device)
    u[torch.arange(num, device=device), face] = sign[:, 0]
    return u


def _sphere(num: int, dim: int, generator: torch.Generator | None,
            device: torch.device) -> torch.Tensor:
    """Uniform directions on the unit ℓ2 sphere of ℝ^d."""
    g = torch.randn(num, dim, device=device, generator=generator)
    return g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)


def convert_radius(direct: dict[float, np.ndarray], target: float, dim: int) -> np.ndarray:
    """Sound cross-norm conversion: the largest ℓ_target ball inside every direct ℓ_a ball.

    ‖δ‖_a ≤ d^{1/a − 1/q}‖δ‖_q for a < q and ‖δ‖_a ≤ ‖δ‖_q for a ≥ q, so
    r_q = max_a r_a / d^{max(0, 1/a − 1/q)}.
    """
    best = None
    for a, r_a in direct.items():
        gap = max(0.0, 1.0 / a - 1.0 / target)
        converted = r_a / dim ** gap
        best = converted if best is None else np.maximum(best, converted)
    assert best is not None
    return best


class Noise(ABC):
    """An isotropic (exchangeable) noise ε ∈ ℝ^d with per-coordinate standard deviation σ.

    Subclasses set ``name``, ``title``, ``native_norm`` (the norm the noise is designed to
    certify), ``direct`` (norms with a closed-form radius and the kind of each) and
    ``defaults`` (extra parameters), and implement ``lambd``, ``sample``, ``log_prob`` and
    ``_direct_radius``.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    native_norm: ClassVar[float] = 2.0
    direct: ClassVar[dict[float, Kind]] = {}
    defaults: ClassVar[dict[str, float]] = {}
    formulas: ClassVar[dict[float, str]] = {}

    def __init__(self, sigma: float, dim: int, device: str | torch.device | None = None,
                 **params: float) -> None:
        self.sigma = check_positive("sigma", sigma)
        self.dim = check_count("dim", dim)
        self.device = torch.device(device or "cpu")
        unknown = set(params) - set(self.defaults)
        if unknown:
            allowed = ", ".join(self.defaults) or "none"
            raise UcanError(f"noise {self.name!r} has no parameter {sorted(unknown)[0]!r} "
                            f"(parameters: {allowed})")
        self.params = {**self.defaults, **{k: float(v) for k, v in params.items()}}
        for key, value in self.params.items():
            if not math.isfinite(value):
                raise UcanError(f"noise parameter {key} must be finite, got {value!r}")
        self._check_params()

    def _check_params(self) -> None:
        """Validate ``self.params``; raise :class:`UcanError` on a bad value."""

    @property
    @abstractmethod
    def lambd(self) -> float:
        """The distribution's scale λ(σ)."""

    @abstractmethod
    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` draws of ε as a float32 tensor of shape ``(num, dim)`` on ``self.device``."""

    @abstractmethod
    def log_prob(self, eps: torch.Tensor) -> torch.Tensor:
        """Normalised joint log-density of ``eps`` (last axis = the d coordinates)."""

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        """Closed-form radius for ``norm`` in ``self.direct``, for p ∈ (½, 1]."""
        raise NotImplementedError

    def radius_curve(self, p_a: np.ndarray | float, norm: float | str) -> tuple[np.ndarray, Kind]:
        """Certified ℓ_norm radius for each lower bound in ``p_a`` (0 where p_A ≤ ½).

        Uses the closed form where the noise has one for ``norm`` and the sound cross-norm
        conversion from the direct norms otherwise. Raises :class:`UcanError` when the noise
        has no closed-form radius at all (use the universal engine).
        """
        q = parse_norm(norm)
        p = np.atleast_1d(np.asarray(p_a, dtype=np.float64))
        if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
            raise UcanError("p_A must lie in [0, 1]")
        if not self.direct:
            raise UcanError(f"noise {self.name!r} has no closed-form radius; "
                            "use the universal (numerical) radius engine")
        live = p > 0.5
        pl = np.where(live, p, 0.75)
        if q in self.direct:
            values, kind = self._direct_radius(pl, q), self.direct[q]
        else:
            values = convert_radius({a: self._direct_radius(pl, a) for a in self.direct}, q,
                                    self.dim)
            kind = "sound"
        return np.where(live, values, 0.0), kind

    def radius(self, p_a: float, norm: float | str | None = None) -> Radius:
        """Certified radius at lower bound ``p_a`` in ``norm`` (default: the native norm)."""
        q = self.native_norm if norm is None else parse_norm(norm)
        values, kind = self.radius_curve(p_a, q)
        return Radius(float(values[0]), norm_label(q), kind, self.formula(q))

    def radii(self, p_a: float) -> dict[str, Radius]:
        """Radii in ℓ1, ℓ2 and ℓ∞ (empty if the noise has no closed form)."""
        if not self.direct:
            return {}
        return {norm_label(q): self.radius(p_a, q) for q in STANDARD_NORMS}

    def formula(self, norm: float) -> str:
        """The radius formula for ``norm`` as text (conversion rule if not direct)."""
        if norm in self.formulas:
            return self.formulas[norm]
        parts = [f"r_{norm_label(a)}/d^{{max(0,1/{norm_label(a)}-1/{norm_label(norm)})}}"
                 for a in self.direct]
        return "max(" + ", ".join(parts) + ")  [norm conversion]"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description: name, σ, λ, d, parameters, native norm."""
        return {"name": self.name, "title": self.title, "sigma": self.sigma,
                "lambda": self.lambd, "dim": self.dim, "params": dict(self.params),
                "native_norm": norm_label(self.native_norm)}

    def to(self, device: str | torch.device) -> Noise:
        """The same noise on another device."""
        return type(self)(self.sigma, self.dim, device=device, **self.params)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v:g}" for k, v in self.params.items())
        return f"{type(self).__name__}(sigma={self.sigma:g}, dim={self.dim}{extra})"


class IIDNoise(Noise):
    """Noise with i.i.d. coordinates: ε_i ~ F, a symmetric 1-D law of scale λ."""

    @abstractmethod
    def marginal(self) -> Any:
        """The 1-D marginal as a frozen ``scipy.stats`` distribution."""

    @abstractmethod
    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        """Per-coordinate log-density."""

    def log_prob(self, eps: torch.Tensor) -> torch.Tensor:
        return self._log_density_1d(eps).sum(dim=-1)

    def _quantile_radius(self, p: np.ndarray) -> np.ndarray:
        """ℓ1 radius F⁻¹(p) of an i.i.d. log-concave noise (module docstring)."""
        return self.marginal().ppf(p)


class Gaussian(IIDNoise):
    """N(0, σ²I), λ = σ. Radius λΦ⁻¹(p_A) in ℓ2 (Cohen et al. 2019).

    All ℓp radii are exact: the Neyman–Pearson worst case depends only on ‖δ‖₂, and the
    largest ℓ2 norm in the ℓp ball of radius r is r·d^{max(0, 1/2 − 1/p)}.
    """

    name, title, native_norm = "gaussian", "Gaussian", 2.0
    direct = {1.0: "exact", 2.0: "exact", math.inf: "exact"}
    formulas = {1.0: "σ·Φ⁻¹(p_A)", 2.0: "σ·Φ⁻¹(p_A)", math.inf: "σ·Φ⁻¹(p_A)/√d"}

    @property
    def lambd(self) -> float:
        return self.sigma

    def marginal(self) -> Any:
        return stats.norm(scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(num, self.dim, device=self.device, generator=generator) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        return -0.5 * (x / self.lambd) ** 2 - math.log(self.lambd * math.sqrt(2 * math.pi))

    def radius_curve(self, p_a: np.ndarray | float, norm: float | str) -> tuple[np.ndarray, Kind]:
        q = parse_norm(norm)
        values, _ = super().radius_curve(p_a, 2.0)
        return values / self.dim ** max(0.0, 0.5 - 1.0 / q), "exact"

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        return self.lambd * stats.norm.ppf(p) / self.dim ** max(0.0, 0.5 - 1.0 / norm)


class Laplace(IIDNoise):
    """i.i.d. Laplace, density ∝ exp(−‖x‖₁/λ), λ = σ/√2. ℓ1 radius −λ·ln(2(1 − p_A)), exact."""

    name, title, native_norm = "laplace", "Laplace", 1.0
    direct = {1.0: "exact"}
    formulas = {1.0: "−λ·ln(2(1−p_A)),  λ = σ/√2"}

    @property
    def lambd(self) -> float:
        return self.sigma / math.sqrt(2.0)

    def marginal(self) -> Any:
        return stats.laplace(scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        e = torch.empty(num, self.dim, device=self.device).exponential_(generator=generator)
        return e * _random_sign(num, self.dim, generator, self.device) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        return -x.abs() / self.lambd - math.log(2 * self.lambd)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        return -self.lambd * np.log(2.0 * (1.0 - p))


class Uniform(IIDNoise):
    """Uniform on the cube [−λ, λ]^d, λ = √3·σ.

    ℓ1: 2λ(p_A − ½); ℓ∞: 2λ(1 − (3/2 − p_A)^{1/d}); both exact (the shifted cube loses
    mass 1 − ∏(1 − |δ_i|/2λ), maximised at an axis for ℓ1 and a corner for ℓ∞).
    """

    name, title, native_norm = "uniform", "Uniform (cube)", 1.0
    direct = {1.0: "exact", math.inf: "exact"}
    formulas = {1.0: "2λ(p_A − ½),  λ = √3·σ",
                math.inf: "2λ(1 − (3/2 − p_A)^{1/d}),  λ = √3·σ"}

    @property
    def lambd(self) -> float:
        return math.sqrt(3.0) * self.sigma

    def marginal(self) -> Any:
        return stats.uniform(loc=-self.lambd, scale=2 * self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return (_uniform(num, self.dim, generator, self.device) * 2.0 - 1.0) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        inside = torch.full_like(x, -math.log(2 * self.lambd))
        return torch.where(x.abs() <= self.lambd, inside, torch.full_like(x, -math.inf))

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        if norm == 1.0:
            return 2.0 * self.lambd * (p - 0.5)
        return 2.0 * self.lambd * -np.expm1(np.log1p(0.5 - p) / self.dim)


class GeneralizedNormal(IIDNoise):
    """i.i.d. generalized normal, density ∝ exp(−|x/λ|^s), λ = σ/√(Γ(3/s)/Γ(1/s)).

    ``shape`` s = 1 is Laplace and s = 2 is Gaussian. ℓ1 radius: F⁻¹(p_A), exact for s ≥ 1
    (log-concave); for s = ½ the closed form of Yang et al. (2020),
    2λ(−c·ln(1 − e^{−c}) + Li₂(e^{−c})) with c = P⁻¹(2, 2(1 − p_A)) (regularised lower
    incomplete gamma inverse), a sound lower bound. Other s < 1 have no closed form.
    """

    name, title, native_norm = "gennorm", "Generalized normal", 1.0
    defaults = {"shape": 2.0}

    def _check_params(self) -> None:
        s = self.params["shape"]
        if s <= 0:
            raise UcanError(f"gennorm shape must be > 0, got {s:g}")

    @property
    def shape(self) -> float:
        return self.params["shape"]

    @property
    def direct(self) -> dict[float, Kind]:  # type: ignore[override]
        if self.shape == 2.0:
            return dict(Gaussian.direct)
        if self.shape >= 1.0:
            return {1.0: "exact"}
        if self.shape == 0.5:
            return {1.0: "sound"}
        return {}

    @property
    def formulas(self) -> dict[float, str]:  # type: ignore[override]
        if self.shape == 0.5:
            return {1.0: "2λ(−c·ln(1−e^{−c}) + Li₂(e^{−c})),  c = P⁻¹(2, 2(1−p_A))"}
        return {1.0: "λ·(P⁻¹(1/s, 2p_A − 1))^{1/s}  (1-D quantile F⁻¹(p_A))",
                2.0: "σ·Φ⁻¹(p_A)", math.inf: "σ·Φ⁻¹(p_A)/√d"}

    @property
    def lambd(self) -> float:
        s = self.shape
        return self.sigma / math.sqrt(math.exp(math.lgamma(3 / s) - math.lgamma(1 / s)))

    def marginal(self) -> Any:
        return stats.gennorm(self.shape, scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        g = standard_gamma(1.0 / self.shape, num * self.dim, generator, self.device)
        magnitude = (g ** (1.0 / self.shape)).to(torch.float32).view(num, self.dim)
        return magnitude * _random_sign(num, self.dim, generator, self.device) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        s = self.shape
        return -(x.abs() / self.lambd) ** s - math.log(2 * self.lambd) - math.lgamma(1 + 1 / s)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        if self.shape == 2.0:
            return Gaussian(self.sigma, self.dim)._direct_radius(p, norm)
        if self.shape >= 1.0:
            return self._quantile_radius(p)
        c = special.gammaincinv(2.0, 2.0 * (1.0 - p))
        return 2.0 * self.lambd * (-c * np.log(-np.expm1(-c)) + special.spence(-np.expm1(-c)))


class HyperbolicSecant(IIDNoise):
    """i.i.d. hyperbolic secant, density (1/(πb))·sech(x/b), b = 2σ/π.

    ℓ1 radius b·ln tan(π·p_A/2) = F⁻¹(p_A), exact (log-concave marginal).
    """

    name, title, native_norm = "hypsecant", "Hyperbolic secant", 1.0
    direct = {1.0: "exact"}
    formulas = {1.0: "b·ln tan(π·p_A/2),  b = 2σ/π"}

    @property
    def lambd(self) -> float:
        return 2.0 * self.sigma / math.pi

    def marginal(self) -> Any:
        return stats.hypsecant(scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = _uniform(num, self.dim, generator, self.device, low=1e-7).clamp_max(1 - 1e-7)
        return torch.log(torch.tan(0.5 * math.pi * u)) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        y = (x / self.lambd).abs()
        log_cosh = y + torch.log1p(torch.exp(-2 * y)) - _LOG_2
        return -log_cosh - math.log(math.pi * self.lambd)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        return self.lambd * np.log(np.tan(0.5 * np.pi * p))


class Cauchy(IIDNoise):
    """i.i.d. Cauchy of scale γ. It has no variance: ``sigma`` is matched by the quartiles,
    γ = σ·Φ⁻¹(¾), so its interquartile range equals that of N(0, σ²). No closed-form
    radius; the universal engine computes it.
    """

    name, title, native_norm = "cauchy", "Cauchy", 1.0

    @property
    def lambd(self) -> float:
        return self.sigma * float(stats.norm.ppf(0.75))

    def marginal(self) -> Any:
        return stats.cauchy(scale=self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = _uniform(num, self.dim, generator, self.device, low=1e-7).clamp_max(1 - 1e-7)
        return torch.tan(math.pi * (u - 0.5)) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        return -torch.log1p((x / self.lambd) ** 2) - math.log(math.pi * self.lambd)


class GeneralizedNormalMixture(IIDNoise):
    """i.i.d. mixture w·GN(s₁) + (1 − w)·GN(s₂), each component with standard deviation σ
    (so the mixture has σ too). No closed-form radius; the universal engine computes it.
    """

    name, title, native_norm = "expmix", "Exponential-power mixture", 1.0
    defaults = {"weight": 0.5, "shape1": 1.0, "shape2": 2.0}

    def _check_params(self) -> None:
        if not 0.0 <= self.params["weight"] <= 1.0:
            raise UcanError(f"mixture weight must lie in [0, 1], got {self.params['weight']:g}")
        for key in ("shape1", "shape2"):
            if self.params.get(key, 1.0) <= 0:
                raise UcanError(f"{key} must be > 0, got {self.params[key]:g}")

    def _components(self) -> tuple[GeneralizedNormal, GeneralizedNormal]:
        return (GeneralizedNormal(self.sigma, self.dim, self.device, shape=self.params["shape1"]),
                GeneralizedNormal(self.sigma, self.dim, self.device, shape=self.params["shape2"]))

    @property
    def lambd(self) -> float:
        return self.sigma

    def marginal(self) -> Any:
        first, second = self._components()
        return _MixtureMarginal(first.marginal(), second.marginal(), self.params["weight"])

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        first, second = self._components()
        pick = _uniform(num, self.dim, generator, self.device) < self.params["weight"]
        return torch.where(pick, first.sample(num, generator), second.sample(num, generator))

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        first, second = self._components()
        w = self.params["weight"]
        parts = [first._log_density_1d(x) + math.log(w) if w > 0 else None,
                 second._log_density_1d(x) + math.log1p(-w) if w < 1 else None]
        return torch.logsumexp(torch.stack([t for t in parts if t is not None]), dim=0)


class LaplaceGaussianMixture(GeneralizedNormalMixture):
    """i.i.d. Laplace–Gaussian mixture w·Laplace + (1 − w)·Gaussian, both of std σ."""

    name, title = "laplace_gaussian", "Laplace–Gaussian mixture"
    defaults = {"weight": 0.5}

    def _components(self) -> tuple[GeneralizedNormal, GeneralizedNormal]:
        return (GeneralizedNormal(self.sigma, self.dim, self.device, shape=1.0),
                GeneralizedNormal(self.sigma, self.dim, self.device, shape=2.0))


class Pareto(IIDNoise):
    """i.i.d. two-sided power law, density (a/2λ)(1 + |x|/λ)^{−(a+1)}, λ = σ√((a−1)(a−2)/2).

    ℓ1 radius (Yang et al. 2020): λ(2p_A − 1)/a · ₂F₁(1, a/(a+1); a/(a+1) + 1;
    (2p_A − 1)^{1+1/a}), a sound lower bound (differential method).
    """

    name, title, native_norm = "pareto", "Pareto (power law)", 1.0
    defaults = {"a": 3.0}
    direct = {1.0: "sound"}
    formulas = {1.0: "λ(2p_A−1)/a·₂F₁(1, a/(a+1); a/(a+1)+1; (2p_A−1)^{1+1/a})"}

    def _check_params(self) -> None:
        if self.params["a"] <= 2:
            raise UcanError(f"pareto a must be > 2 for a finite variance, got {self.params['a']:g}")

    @property
    def lambd(self) -> float:
        a = self.params["a"]
        return self.sigma * math.sqrt((a - 1) * (a - 2) / 2)

    def marginal(self) -> Any:
        a = self.params["a"]
        return _TwoSidedLomax(a, self.lambd)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # float32 U(0, 1) is a multiple of 2^−24 and is 0 with probability 2^−24: floor it at
        # 2^−24, not lower, or each 0 lands at the 10^−12 tail quantile, ~10^4× too often.
        u = _uniform(num, self.dim, generator, self.device, low=2.0 ** -24)
        magnitude = u ** (-1.0 / self.params["a"]) - 1.0
        return magnitude * _random_sign(num, self.dim, generator, self.device) * self.lambd

    def _log_density_1d(self, x: torch.Tensor) -> torch.Tensor:
        a = self.params["a"]
        return math.log(a / (2 * self.lambd)) - (a + 1) * torch.log1p(x.abs() / self.lambd)

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        a = self.params["a"]
        b = a / (a + 1)
        z = 2 * p - 1
        return self.lambd * z / a * special.hyp2f1(1.0, b, b + 1.0, z ** (1 + 1 / a))


class _TwoSidedLomax:
    """Minimal frozen-distribution stand-in (ppf, cdf, pdf) for the two-sided Lomax law."""

    def __init__(self, a: float, scale: float) -> None:
        self.a, self.scale = a, scale

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        tail = 0.5 * (1 + np.abs(x) / self.scale) ** -self.a
        return np.where(x < 0, tail, 1 - tail)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return self.a / (2 * self.scale) * (1 + np.abs(x) / self.scale) ** -(self.a + 1)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        tail = np.minimum(q, 1 - q)
        magnitude = self.scale * ((2 * tail) ** (-1 / self.a) - 1)
        return np.where(q < 0.5, -magnitude, magnitude)


class _MixtureMarginal:
    """Frozen-distribution stand-in for w·F₁ + (1 − w)·F₂ (two frozen scipy laws).

    ``ppf`` inverts the mixture CDF by bisection between the components' quantiles (the
    mixture quantile lies between them), to float64 precision.
    """

    def __init__(self, first: Any, second: Any, weight: float) -> None:
        self.first, self.second, self.weight = first, second, weight

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return self.weight * self.first.cdf(x) + (1 - self.weight) * self.second.cdf(x)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return self.weight * self.first.pdf(x) + (1 - self.weight) * self.second.pdf(x)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        a, b = self.first.ppf(q), self.second.ppf(q)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < q
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return 0.5 * (lo + hi)


class RadialNoise(Noise):
    """Noise whose density depends on ‖x‖_q only (level sets are ℓq spheres), q =
    ``level_norm``. Sampling is ε = R·V with R = ‖ε‖_q drawn by ``sample_norm`` and V uniform
    on the unit ℓq sphere (q = ∞: the cube surface; q = 2: the sphere).
    """

    level_norm: ClassVar[float]

    @abstractmethod
    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        """log μ(x) as a function of t = ‖x‖_q."""

    @abstractmethod
    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` draws of ‖ε‖_q (float64)."""

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        r = self.sample_norm(num, generator).to(torch.float32)[:, None]
        surface = _cube_surface if self.level_norm == math.inf else _sphere
        return surface(num, self.dim, generator, self.device) * r

    def log_prob(self, eps: torch.Tensor) -> torch.Tensor:
        t = eps.abs().amax(dim=-1) if self.level_norm == math.inf else eps.norm(dim=-1)
        return self.log_density_of_norm(t)


class ExpInf(RadialNoise):
    """Cube-level-set noise, density ∝ exp(−‖x‖∞/λ) (k = 1, j = 0 of Yang et al. 2020),
    λ = σ/√(((d−1)/3 + 1)(d + 1)).

    ℓ1: 2λd(p_A − ½); ℓ∞: λ·ln(1/(2(1 − p_A))); both sound (differential method).
    """

    name, title, native_norm = "expinf", "Exp-ℓ∞ (cube level sets)", math.inf
    level_norm = math.inf
    direct = {1.0: "sound", math.inf: "sound"}
    formulas = {1.0: "2λd(p_A − ½)", math.inf: "λ·ln(1/(2(1−p_A)))"}

    @property
    def lambd(self) -> float:
        d = self.dim
        return self.sigma / math.sqrt(((d - 1) / 3 + 1) * (d + 1))

    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return standard_gamma(float(self.dim), num, generator, self.device) * self.lambd

    def _log_norm(self) -> float:
        d = self.dim
        return d * _LOG_2 + d * math.log(self.lambd) + math.lgamma(d + 1)

    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        return -t / self.lambd - self._log_norm()

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        if norm == 1.0:
            return 2.0 * self.lambd * self.dim * (p - 0.5)
        return -self.lambd * np.log(2.0 * (1.0 - p))


class PowInf(ExpInf):
    """Cube-level-set power law, density ∝ (1 + ‖x‖∞/λ)^{−a}, a > d + 2,
    λ = σ√((a−d−1)(a−d−2)/(((d−1)/3 + 1)(d + 1))). ℓ1: 2λd/(a − d)·(p_A − ½), sound.
    Default a = ⌈1.3·d⌉ + 3 (UCAN used a = 4000 at d = 3072).
    """

    name, title = "powinf", "Power-law-ℓ∞ (cube level sets)"
    native_norm = 1.0
    direct = {1.0: "sound"}
    formulas = {1.0: "2λd/(a−d)·(p_A − ½)"}
    defaults = {"a": 0.0}

    def __init__(self, sigma: float, dim: int, device: str | torch.device | None = None,
                 **params: float) -> None:
        if not params.get("a"):
            params["a"] = float(math.ceil(1.3 * dim) + 3)
        super().__init__(sigma, dim, device, **params)

    def _check_params(self) -> None:
        if self.params["a"] <= self.dim + 2:
            raise UcanError(f"powinf a must be > d + 2 = {self.dim + 2}, got {self.params['a']:g}")

    @property
    def lambd(self) -> float:
        a, d = self.params["a"], self.dim
        return self.sigma * math.sqrt((a - d - 1) * (a - d - 2) / (((d - 1) / 3 + 1) * (d + 1)))

    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        g1 = standard_gamma(float(self.dim), num, generator, self.device)
        g2 = standard_gamma(self.params["a"] - self.dim, num, generator, self.device)
        return g1 / g2 * self.lambd

    def _log_norm(self) -> float:
        a, d = self.params["a"], self.dim
        log_beta = math.lgamma(d) + math.lgamma(a - d) - math.lgamma(a)
        return math.log(d) + d * _LOG_2 + d * math.log(self.lambd) + log_beta

    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        return -self.params["a"] * torch.log1p(t / self.lambd) - self._log_norm()

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        return 2.0 * self.lambd * self.dim / (self.params["a"] - self.dim) * (p - 0.5)


class UniformBall(RadialNoise):
    """Uniform on the ℓ2 ball of radius λ = σ√(d + 2).

    ℓ2 radius λ(2 − 4·B⁻¹_{(d+1)/2,(d+1)/2}(3/4 − p_A/2)), exact (ball overlap).
    """

    name, title, native_norm = "uniformball", "Uniform (ℓ2 ball)", 2.0
    level_norm = 2.0
    direct = {2.0: "exact"}
    formulas = {2.0: "λ(2 − 4·B⁻¹_{(d+1)/2,(d+1)/2}(3/4 − p_A/2)),  λ = σ√(d+2)"}

    @property
    def lambd(self) -> float:
        return self.sigma * math.sqrt(self.dim + 2)

    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand(num, device=self.device, generator=generator, dtype=torch.float64)
        return u ** (1.0 / self.dim) * self.lambd

    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        d = self.dim
        log_volume = 0.5 * d * math.log(math.pi) + d * math.log(self.lambd) - math.lgamma(d / 2 + 1)
        return torch.where(t <= self.lambd, torch.full_like(t, -log_volume),
                           torch.full_like(t, -math.inf))

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        k = (self.dim + 1) / 2
        return self.lambd * (2.0 - 4.0 * special.betaincinv(k, k, 0.75 - p / 2))


class Exp2(RadialNoise):
    """ℓ2-level-set noise, density ∝ exp(−‖x‖₂/λ) (k = 1), λ = σ/√(d + 1).

    ℓ2 radius λ(d − 1)·atanh(1 − 2·B⁻¹_{(d−1)/2,(d−1)/2}(1 − p_A)), sound (Yang et al. 2020).
    """

    name, title, native_norm = "exp2", "Exp-ℓ2 (sphere level sets)", 2.0
    level_norm = 2.0
    direct = {2.0: "sound"}
    formulas = {2.0: "λ(d−1)·atanh(1 − 2·B⁻¹_{(d−1)/2,(d−1)/2}(1 − p_A)),  λ = σ/√(d+1)"}

    def _check_params(self) -> None:
        if self.dim < 2:
            raise UcanError("exp2 needs dim >= 2")

    @property
    def lambd(self) -> float:
        return self.sigma / math.sqrt(self.dim + 1)

    def sample_norm(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return standard_gamma(float(self.dim), num, generator, self.device) * self.lambd

    def log_density_of_norm(self, t: torch.Tensor) -> torch.Tensor:
        d = self.dim
        log_surface = _LOG_2 + 0.5 * d * math.log(math.pi) - math.lgamma(d / 2)
        log_norm = log_surface + d * math.log(self.lambd) + math.lgamma(d)
        return -t / self.lambd - log_norm

    def _direct_radius(self, p: np.ndarray, norm: float) -> np.ndarray:
        k = (self.dim - 1) / 2
        return self.lambd * (self.dim - 1) * np.arctanh(1.0 - 2.0 * special.betaincinv(k, k, 1.0 - p))


NOISES: dict[str, type[Noise]] = {
    cls.name: cls
    for cls in (Gaussian, Laplace, Uniform, GeneralizedNormal, HyperbolicSecant, Pareto, ExpInf,
                PowInf, UniformBall, Exp2, Cauchy, LaplaceGaussianMixture, GeneralizedNormalMixture)
}


def make_noise(name: str, sigma: float, dim: int, device: str | torch.device | None = None,
               **params: float) -> Noise:
    """Build a noise of the library by name; unknown names and bad values raise UcanError."""
    key = str(name).strip().lower()
    if key not in NOISES:
        raise UcanError(f"unknown noise {name!r}; choose one of: {', '.join(NOISES)}")
    return NOISES[key](sigma, dim, device=device, **params)
