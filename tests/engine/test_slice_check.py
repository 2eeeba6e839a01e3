"""The empirical check's sampler and PREDICT wrapper (ucan_core.slice_check)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ucan_core.audit.slice_check import check_slice, perturb_pair, slice_points
from ucan_core.certify.smoothed import SmoothedClassifier
from ucan_core.errors import UcanError
from ucan_core.noises.catalog import make_noise
from ucan_core.noises.region import CertifiedRegion

D = 64
PA, PB = 9, 40


def region(norm: float, radius: float = 0.7) -> CertifiedRegion:
    scale = np.linspace(0.4, 2.5, D)
    return CertifiedRegion(scale, radius, norm)


def scaled_norm(r: CertifiedRegion, pair: np.ndarray) -> np.ndarray:
    return np.linalg.norm(pair / r.scale[[PA, PB]], ord=r.norm, axis=1)


@pytest.mark.parametrize("norm", [1.0, 2.0, 1.5, math.inf])
def test_points_fill_the_slice_and_its_boundary(norm):
    r = region(norm)
    offsets, edge = slice_points(r, PA, PB, 200, seed=3)
    assert offsets.shape == (200, 2) and edge.sum() == 100
    size = scaled_norm(r, offsets) / r.radius
    np.testing.assert_allclose(size[edge], 1.0, rtol=1e-12)           # on ‖δ/s‖_p = R
    assert size[~edge].max() < 1 and size[~edge].min() < 0.3          # spread inside
    assert {bool(v) for v in np.sign(offsets[:, 0]) > 0} == {True, False}   # all around
    again, _ = slice_points(r, PA, PB, 200, seed=3)
    np.testing.assert_array_equal(offsets, again)                     # seeded
    assert not np.array_equal(offsets, slice_points(r, PA, PB, 200, seed=4)[0])


@pytest.mark.parametrize("norm", [1.0, 2.0, math.inf])
def test_perturbed_inputs_stay_in_the_region_and_in_pixel_space(norm):
    """x + δ moved on pixels PA and PB only, in [0, 1], and the applied δ (after clipping and
    float32 rounding) is inside the full d-dimensional region, boundary points included."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (1, 8, 8)).astype(np.float32)
    x.reshape(-1)[PA] = 0.0                                            # clipped below
    r = region(norm, radius=0.9)
    offsets, edge = slice_points(r, PA, PB, 300, seed=1)
    inputs, applied = perturb_pair(x, PA, PB, offsets)
    assert inputs.shape == (300, 1, 8, 8) and inputs.dtype == np.float32
    assert inputs.min() >= 0 and inputs.max() <= 1
    flat = inputs.reshape(300, -1).astype(np.float64) - x.reshape(-1).astype(np.float64)
    others = np.delete(flat, [PA, PB], axis=1)
    assert not others.any()                                           # two coordinates only
    np.testing.assert_array_equal(flat[:, [PA, PB]], applied)
    assert r.contains(flat).all()                                     # the scaled-norm test
    assert (scaled_norm(r, applied) <= r.radius).all()                # no rounding tolerance
    assert (np.abs(applied) <= np.abs(offsets)).all()
    assert (np.sign(applied) * np.sign(offsets) >= 0).all()
    assert (applied[:, 0] >= 0).all() and (offsets[:, 0] < 0).any()   # x at PA = 0 cannot go down
    assert np.isclose(scaled_norm(r, applied[edge]), r.radius, rtol=1e-6).any()


def test_start_keeps_points_in_the_open_quadrants():
    r = region(2.0)
    offsets, _ = slice_points(r, PA, PB, 100, seed=2, start=(0.0, 1.0))  # only up in PA, down in PB
    assert (offsets[:, 0] >= 0).all() and (offsets[:, 1] <= 0).all()
    offsets, _ = slice_points(r, PA, PB, 100, seed=2, start=(0.5, 0.0))
    assert (offsets[:, 1] >= 0).all() and (offsets[:, 0] < 0).any() and (offsets[:, 0] > 0).any()


def test_bad_arguments_raise():
    r = region(2.0)
    with pytest.raises(UcanError, match="two different"):
        slice_points(r, PA, PA, 10)
    with pytest.raises(UcanError, match="out of range"):
        slice_points(r, PA, D, 10)
    with pytest.raises(UcanError, match="empty"):
        slice_points(CertifiedRegion(r.scale, 0.0, 2.0), PA, PB, 10)
    with pytest.raises(UcanError, match="num"):
        slice_points(r, PA, PB, 0)


class SignOf(nn.Module):
    """Class 0 when pixel ``k`` is above ``level``, class 1 below (at ``level`` = x_k the
    noise makes both classes equally likely, and PREDICT abstains)."""

    def __init__(self, k: int, level: float) -> None:
        super().__init__()
        self.k, self.level = k, level
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.reshape(x.shape[0], -1)[:, self.k] - self.level
        return torch.stack([z, -z], dim=1)


def test_check_counts_held_changed_and_abstained():
    x = torch.full((1, 8, 8), 0.5)
    noise = make_noise("gaussian", 0.05, D)
    r = CertifiedRegion(np.ones(D), 0.3, 2.0)
    held = check_slice(SmoothedClassifier(SignOf(0, 0.0), noise, 2), x, 0, r, PA, PB, 12, 100,
                       0.001, seed=0)
    assert held.counts() == {"held": 12, "changed": 0, "abstained": 0}
    assert held.offsets.shape == (12, 2) and (held.size <= 1).all()
    changed = check_slice(SmoothedClassifier(SignOf(0, 1.0), noise, 2), x, 0, r, PA, PB, 12, 100,
                          0.001, seed=0)
    assert changed.counts() == {"held": 0, "changed": 12, "abstained": 0}
    coin = check_slice(SmoothedClassifier(SignOf(0, 0.5), noise, 2), x, 0, r, PA, PB, 12, 100,
                       0.001, seed=0)
    assert coin.counts()["abstained"] >= 10
    assert list(coin.outcomes).count("abstained") == coin.counts()["abstained"]
    assert (coin.predictions[coin.outcomes == "abstained"] == SmoothedClassifier.ABSTAIN).all()
