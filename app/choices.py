"""The hashable choices that key the app's caches: the noise of a page (:class:`NoiseChoice`)
and everything that determines a certificate (:class:`CertifySettings`, the two-stage
:class:`DualSettings` and :class:`RoutingSettings`, the Region page's
:class:`RegionCheckSettings`), with the NPG vocabularies the pickers offer.

Plain frozen dataclasses, no Streamlit: :meth:`key` keys a result cache and
:meth:`differences` names what changed (for the stale badge).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ucan_core.zoo.cards import ModelCard

NPG_OPTIONS = {"isotropic": "isotropic", "pattern-1": "pattern ℓ1", "pattern-2": "pattern ℓ2",
               "pattern-inf": "pattern ℓ∞"}
#: The Certify page's extra option for models trained with a learned NPG (UCAN §4.2–4.3).
LEARNED = "learned"
CERTIFY_NPG_OPTIONS = {LEARNED: "the model's learned NPG", **NPG_OPTIONS}
#: NPGs of the Noise Lab and Compare pages beyond :data:`NPG_OPTIONS`: the bundled models'
#: learned generators, evaluated on the current image (MNIST-shaped inputs only).
LEARNED_NPG_OPTIONS = {"universal": "learned universal (UCAN)",
                       "input-dependent": "learned input-dependent (UCAN, not sound)"}
NPG_TITLES = {**NPG_OPTIONS, **LEARNED_NPG_OPTIONS}
#: The Certify page's smoothing modes (the ``mode`` of their settings) in words.
MODES = {"standard": "Standard RS", "dual": "Dual RS", "routing": "Sound routing"}
#: The bundled models' families (their card's ``dataset``) as the model picker groups them.
MODEL_FAMILIES = {"mnist": "Digits (MNIST)", "cifar10": "Small photos (CIFAR-10)",
                  "imagenet": "Photos (ImageNet, denoised)"}
#: The family of the photo models (denoised smoothing of an ImageNet classifier, 224×224).
PHOTOS = "imagenet"


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

    def fixed_npg(self) -> dict[str, Any]:
        """The engine's arguments for this choice's fixed NPG (``ucan_core.npg.source``):
        none for isotropic noise, the pattern's norm, κ and ι for a pattern-fixed one."""
        if self.pattern_norm is None:
            return {}
        return dict(npg="pattern", pattern_norm=self.pattern_norm, kappa=self.kappa,
                    iota=self.iota)

    @classmethod
    def of_card(cls, card: ModelCard, *, sigma: float | None = None, npg: str = "isotropic",
                kappa: float = 1.0, iota: float = 1.0) -> NoiseChoice:
        """A bundled model's own noise (density, parameters and, unless given, σ) at its
        input shape, with the NPG ``npg``."""
        params = tuple(sorted((k, float(v)) for k, v in (card.noise.get("params") or {}).items()))
        level = float(card.noise["sigma"]) if sigma is None else float(sigma)
        return cls(density=card.noise["name"], sigma=level, shape=card.architecture.input_shape,
                   npg=npg, kappa=float(kappa), iota=float(iota), params=params)


@dataclass(frozen=True)
class _Settings:
    """The image and the sampling, shared by every mode; :meth:`key` keys the result cache
    and :meth:`differences` names what changed (for the stale badge)."""

    mode: ClassVar[str]
    NAMES: ClassVar[dict[str, str]] = {
        "image_key": "image", "model_id": "model", "noise.sigma": "σ", "noise.npg": "NPG",
        "noise.kappa": "κ", "noise.iota": "ι", "batch_size": "batch size", "alpha": "α",
        "estimator_id": "σ-estimator", "expert_ids": "experts", "selector_id": "selector",
        "sequential": "anytime-valid", "target_radius": "target radius"}
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
    #: Anytime-valid CERTIFY (``certify_sequential``) with n_max = n: it may stop early (at
    #: ``target_radius`` if given, or by the Stop button) and still certify.
    sequential: bool = field(default=False, kw_only=True)
    target_radius: float | None = field(default=None, kw_only=True)

    @property
    def title(self) -> str:
        return self.model_id

    @property
    def samples(self) -> int:
        """Samples one run draws (selection and estimation)."""
        return self.n0 + self.n


@dataclass(frozen=True)
class TwoStageSettings(_Settings):
    """A two-stage certificate (``ucan_core.two_stage.engine.SelectAndCertify``): a smoothed
    selector picks a menu entry, whose smoothed classifier is then certified. ``stage_tag``
    names the selection stage's columns in the downloads; :meth:`models` are the bundled ids
    used."""

    stage_tag: ClassVar[str]

    @property
    def samples(self) -> int:
        """Samples one run draws: n0 + n for each of its two stages."""
        return 2 * (self.n0 + self.n)

    def models(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def selection_model(self) -> str:
        """The bundled model of the selection stage (σ-estimator or routing selector)."""
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

    @property
    def selection_model(self) -> str:
        return self.estimator_id


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

    @property
    def selection_model(self) -> str:
        return self.selector_id


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@dataclass(frozen=True)
class RegionCheckSettings(CertifySettings):
    """A certification of ``model_id`` smoothed with the Region page's noise at one image,
    then PREDICT with ``n_predict`` samples at ``points`` points of the region's slice through
    the flat pixels ``i`` and ``j`` in ``norm``."""

    mode: ClassVar[str] = "region-check"
    NAMES: ClassVar[dict[str, str]] = {**CertifySettings.NAMES, "i": "pixel A",
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
