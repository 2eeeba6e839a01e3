"""The smoothed classifier g(x) = argmax_c P(f(x + ε) = c) and its Monte-Carlo certificates.

Modelled on Cohen, Rosenfeld & Kolter (2019). Noise is added in [0, 1] pixel space, before
any normalisation (which is the model's first layer), so radii are in pixel units.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ucan_core.certify.certificate import ABSTAIN, FIXED_BOUND, Certificate
from ucan_core.certify.radii import certified_radii
from ucan_core.certify.seeds import make_rng
from ucan_core.certify.sequential import certify_sequential_batch
from ucan_core.certify.stats import clopper_pearson_lower, predict_top
from ucan_core.checks import check_count, check_open_unit
from ucan_core.errors import UcanError
from ucan_core.labels import Soundness
from ucan_core.noises.base import Noise
from ucan_core.norms import norm_label

Progress = Callable[[int, int], None]


def noisy_samples(noise: Noise, x: torch.Tensor, num: int,
                  seed: int | None = None) -> torch.Tensor:
    """``num`` noisy copies x + ε of one input ``x`` (C×H×W), seeded; shape (num, C, H, W).

    These are exactly what the base classifier sees (:meth:`Noise.perturb`: no clipping to
    [0, 1], an exact grid sum for the float-sound noise)."""
    check_count("num", num)
    if x.numel() != noise.dim:
        raise UcanError(f"input has {x.numel()} values, the noise has dim {noise.dim}")
    generator = make_rng(seed, noise.device)
    flat = x.to(noise.device, torch.float32).reshape(1, -1)
    return noise.perturb(flat, num, generator).view(num, *x.shape)


class SmoothedClassifier:
    """Randomized smoothing of ``base_classifier`` (a module mapping images in [0, 1] to
    logits over ``num_classes``) with additive ``noise`` (isotropic or anisotropic).

    Runs on the model's device (cpu, cuda or mps); counts stay on the device until the end.
    """

    ABSTAIN = ABSTAIN

    def __init__(self, base_classifier: nn.Module, noise: Noise, num_classes: int,
                 device: str | torch.device | None = None) -> None:
        self.base_classifier = base_classifier.eval()
        self.num_classes = check_count("num_classes", num_classes, 2)
        if device is None:
            first = next(base_classifier.parameters(), None)
            device = first.device if first is not None else noise.device
        self.device = torch.device(device)
        if noise.device != self.device:
            raise UcanError(f"noise is on {noise.device} but the model runs on {self.device}")
        self.noise = noise

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Check a batch of inputs (B, …) and flatten it to (B, d) on the device."""
        if not isinstance(x, torch.Tensor):
            raise UcanError("inputs must be torch tensors")
        if x.dim() < 2:
            raise UcanError(f"expected a batch of inputs of shape (B, ...), got {tuple(x.shape)}")
        if x[0].numel() != self.noise.dim:
            raise UcanError(f"input has {x[0].numel()} values per example, the noise has "
                            f"dim {self.noise.dim}")
        if not torch.isfinite(x).all():
            raise UcanError("input contains NaN or infinite values")
        if x.min() < -1e-6 or x.max() > 1 + 1e-6:
            raise UcanError("inputs must lie in [0, 1] pixel space (normalise inside the model)")
        return x.to(self.device, torch.float32).reshape(x.shape[0], -1)

    @torch.inference_mode()
    def _count(self, flat: torch.Tensor, shape: tuple[int, ...], num: int, batch_size: int,
               generator: torch.Generator | None, progress: Progress | None, done: int,
               total: int) -> torch.Tensor:
        """Class counts (B, K) of f on ``num`` noisy copies of each of the B inputs.

        Each forward pass carries ≤ ``batch_size`` samples from all B inputs at once. A
        non-finite noisy input or logit aborts with :class:`UcanError`: argmax over NaN
        returns class 0, which would count votes that no classifier cast.
        """
        b = flat.shape[0]
        counts = torch.zeros(b, self.num_classes, dtype=torch.int64, device=self.device)
        per_input = max(1, batch_size // b)
        remaining = num
        while remaining > 0:
            k = min(per_input, remaining)
            noisy = self.noise.perturb(flat, k, generator).view(b * k, *shape)
            if not torch.isfinite(noisy).all():
                raise UcanError(f"the noise {self.noise!r} produced non-finite values: its "
                                "scale is outside the range float32 sampling represents")
            logits = self.base_classifier(noisy)
            if not torch.isfinite(logits).all():
                raise UcanError("the base classifier returned non-finite logits (NaN or inf): "
                                "its weights or the noisy inputs are broken")
            predictions = logits.argmax(dim=1).view(b, k)
            counts.scatter_add_(1, predictions, torch.ones_like(predictions))
            remaining -= k
            done += b * k
            if progress is not None:
                progress(done, total)
        return counts

    def _soundness(self) -> Soundness:
        if self.noise.input_dependent:
            return "input-dependent"
        return "sound"

    def certify(self, x: torch.Tensor, n0: int, n: int, alpha: float, batch_size: int = 1000,
                seed: int | None = None, progress: Progress | None = None) -> Certificate:
        """Cohen's CERTIFY for one input ``x``, shaped as the model takes one example
        (e.g. C×H×W).

        Draws n0 samples to select the top class ĉ_A, then n fresh samples; p̲_A is the
        one-sided Clopper–Pearson lower bound at level α on P(f(x + ε) = ĉ_A). Abstains
        (prediction −1, radius 0) when p̲_A ≤ ½. Otherwise, with probability ≥ 1 − α over
        the sampling, g(x + δ) = ĉ_A for every δ in the certified region, whose ℓp radii
        and ALM the certificate lists.
        """
        return self.certify_batch(x.unsqueeze(0), n0, n, alpha, batch_size, seed, progress)[0]

    def certify_batch(self, xs: torch.Tensor, n0: int, n: int, alpha: float,
                      batch_size: int = 1000, seed: int | None = None,
                      progress: Progress | None = None) -> list[Certificate]:
        """CERTIFY for every input of ``xs`` (B×C×H×W) in one vectorised pass.

        Inputs share forward passes (≤ ``batch_size`` samples each); each input has its
        own selection and estimation samples, so each certificate holds at level α.
        ``progress(done, total)`` is called after every forward pass; it may raise
        :class:`~ucan_core.errors.Cancelled` to stop the run.
        """
        check_count("n0", n0)
        check_count("n", n)
        if n0 > n:
            raise UcanError(f"n0 (selection samples, {n0}) must not exceed n (estimation samples, {n})")
        check_open_unit("alpha", alpha)
        check_count("batch_size", batch_size)
        flat = self._prepare(xs)
        shape = tuple(xs.shape[1:])
        generator = make_rng(seed, self.device)
        results: list[Certificate] = []
        total = flat.shape[0] * (n0 + n)
        done = 0
        for start in range(0, flat.shape[0], batch_size):
            chunk = flat[start:start + batch_size]
            began = time.perf_counter()
            selection = self._count(chunk, shape, n0, batch_size, generator, progress, done, total)
            done += chunk.shape[0] * n0
            estimation = self._count(chunk, shape, n, batch_size, generator, progress, done, total)
            done += chunk.shape[0] * n
            seconds = (time.perf_counter() - began) / chunk.shape[0]
            selection_np, estimation_np = selection.cpu().numpy(), estimation.cpu().numpy()
            for sel, est in zip(selection_np, estimation_np):
                results.append(self._certificate(sel, est, n0, n, alpha, seconds))
        return results

    def _certificate(self, selection: np.ndarray, estimation: np.ndarray, n0: int, n: int,
                     alpha: float, seconds: float) -> Certificate:
        top = int(selection.argmax())
        p_lower = clopper_pearson_lower(int(estimation[top]), n, alpha)
        return self.certificate_from(top, p_lower, selection, estimation, n0, n, alpha, seconds)

    def certificate_from(self, top: int, p_lower: float, selection: Sequence[int],
                         estimation: Sequence[int], n0: int, n: int, alpha: float,
                         seconds: float, bound: str = FIXED_BOUND) -> Certificate:
        """The certificate for class ``top`` with lower bound ``p_lower`` on its probability,
        computed by ``bound`` from the ``n`` estimation samples counted in ``estimation``
        (``selection``: the n0 counts that chose ``top``). Abstains when p̲_A ≤ ½; the radii
        are the noise's (:func:`certified_radii`), an approximate radius makes a sound
        certificate approximate."""
        noise = self.noise
        norm = noise.native_norm
        abstain = p_lower <= 0.5
        radius, radii, alm = certified_radii(noise, p_lower, norm)
        soundness = self._soundness()
        return Certificate(
            prediction=self.ABSTAIN if abstain else top,
            p_a_lower=p_lower,
            radius=0.0 if abstain else radius.value,
            norm=norm_label(norm),
            kind=radius.kind,
            radii=radii,
            alm=0.0 if abstain else alm,
            counts=[int(c) for c in estimation],
            selection_counts=[int(c) for c in selection],
            n0=n0, n=n, alpha=alpha,
            noise=noise.describe(),
            soundness="approximate" if radius.kind == "approximate" and soundness == "sound"
            else soundness,
            seconds=seconds,
            samples_used=n,
            bound=bound,
            assumption=noise.assumption,
        )

    def certify_sequential(self, x: torch.Tensor, n0: int, n_max: int, alpha: float,
                           target_radius: float | None = None, batch_size: int = 1000,
                           seed: int | None = None, progress: Progress | None = None,
                           should_stop: Callable[[], bool] | None = None,
                           watch: Callable[[Certificate], None] | None = None) -> Certificate:
        """CERTIFY that may stop early and still certify (:mod:`.sequential`).

        n0 selection samples pick ĉ_A; estimation samples then arrive in rounds and p̲_A is
        an anytime-valid lower bound (a confidence sequence): with probability ≥ 1 − α it
        holds at every sample size at once, so the certificate stays valid when the run
        stops because ``target_radius`` is reached (or ruled out), at ``n_max``, or when
        ``should_stop()`` says so (a Stop button). ``samples_used`` and ``bound`` say which.
        ``watch(certificate)`` sees, after every round, the certificate a stop then returns.
        """
        return self.certify_sequential_batch(
            x.unsqueeze(0), n0, n_max, alpha, target_radius, batch_size, seed, progress,
            should_stop, None if watch is None else lambda certs: watch(certs[0]))[0]

    def certify_sequential_batch(self, xs: torch.Tensor, n0: int, n_max: int, alpha: float,
                                 target_radius: float | None = None, batch_size: int = 1000,
                                 seed: int | None = None, progress: Progress | None = None,
                                 should_stop: Callable[[], bool] | None = None,
                                 watch: Callable[[list[Certificate]], None] | None = None,
                                 ) -> list[Certificate]:
        """:meth:`certify_sequential` for every input of ``xs``, each stopping on its own."""
        return certify_sequential_batch(self, xs, n0, n_max, alpha, target_radius, batch_size,
                                        seed, progress, should_stop, watch)

    def predict(self, x: torch.Tensor, n: int, alpha: float, batch_size: int = 1000,
                seed: int | None = None, progress: Progress | None = None) -> int:
        """Cohen's PREDICT for one input ``x`` (shaped as one example): the top class, or −1
        (abstain) if the two-sided binomial test of the top two counts does not reject
        equality at level α. Returns a class ≠ g(x) with probability ≤ α.
        """
        return self.predict_batch(x.unsqueeze(0), n, alpha, batch_size, seed, progress)[0]

    def predict_batch(self, xs: torch.Tensor, n: int, alpha: float, batch_size: int = 1000,
                      seed: int | None = None, progress: Progress | None = None) -> list[int]:
        """PREDICT for every input of ``xs`` in one vectorised pass."""
        check_count("n", n)
        check_open_unit("alpha", alpha)
        check_count("batch_size", batch_size)
        flat = self._prepare(xs)
        generator = make_rng(seed, self.device)
        counts = self._count(flat, tuple(xs.shape[1:]), n, batch_size, generator, progress, 0,
                             flat.shape[0] * n).cpu().numpy()
        predictions = []
        for row in counts:
            top, significant = predict_top(row, alpha)
            predictions.append(top if significant else self.ABSTAIN)
        return predictions
