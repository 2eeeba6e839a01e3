"""Compare page through Streamlit's AppTest: shared colour scales, samples and overlaid radius
curves, every number checked against the engine."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import as_array, chart_specs, open_with_params, text, traces
from streamlit.testing.v1 import AppTest

from app.figures import curves as fig_curves
from app.figures import maps as fig_maps
from ucan_core.io.images import to_tensor
from ucan_core.noises.catalog import make_noise
from ucan_core.npg.learned import smoothing_noise
from ucan_core.npg.source import build_noise
from ucan_core.zoo.bundled import list_images, load_npg

MNIST = (1, 28, 28)


def compare_page(params: dict[str, str] | None = None) -> AppTest:
    """The Compare page opened with these URL parameters."""
    return open_with_params("compare", params)


def heatmaps(at: AppTest, key: str) -> tuple[dict, list[np.ndarray]]:
    """The shared colour axis of a maps figure and its panels' z arrays (A, then B)."""
    spec = chart_specs(at)[key]
    return spec["layout"]["coloraxis"], [as_array(t["z"]) for t in spec["data"]]


def curves(at: AppTest) -> dict[str, np.ndarray]:
    return {name: as_array(t["y"]) for name, t in traces(chart_specs(at)["compare_curves"]).items()
            if t.get("mode") in ("lines", "lines+markers")}


def pattern(norm: str = "2", sigma: float = 0.5):
    return build_noise("gaussian", sigma, MNIST, npg="pattern", pattern_norm=norm)


def universal_noise(sigma: float = 0.5):
    x = to_tensor(list_images()["mnist-0000"].load(), MNIST)
    return smoothing_noise(load_npg("mnist-universal-0.50"), make_noise("gaussian", sigma, 784),
                           x)


def samples(at: AppTest) -> list[str]:
    """Media URLs of the two sample grids (hashes of the PNG bytes)."""
    return [image.value[0] for image in at.get("image")]


def test_defaults_shared_sigma_scale_and_engine_curves():
    at = compare_page()
    assert not at.error
    assert set(chart_specs(at)) == {"compare_sigma", "compare_mu", "compare_curves"}
    axis, (z_a, z_b) = heatmaps(at, "compare_sigma")
    engine_b = pattern().std_map().reshape(28, 28).numpy()
    np.testing.assert_allclose(z_a, 0.5, rtol=1e-6)
    np.testing.assert_allclose(z_b, engine_b, rtol=1e-6)
    assert axis["colorscale"][0][1] == "#440154"                        # sequential Viridis
    assert axis["cmin"] == pytest.approx(min(z_a.min(), z_b.min()))
    assert axis["cmax"] == pytest.approx(max(z_a.max(), z_b.max()))
    assert axis["cmin"] < 0.5 < axis["cmax"]                            # B spans both sides
    shown = curves(at)
    assert list(shown) == ["A: isotropic ℓ2 radius R (exact)",
                           "B: anisotropic ℓ2 radius min sᵢ·R (sound)",
                           "B: ALM (∏sᵢ)^(1/d)·R (size measure, not a radius)"]
    iso, kind = make_noise("gaussian", 0.5, 784).radius_curve(fig_curves.P_GRID, 2)
    assert kind == "exact"
    np.testing.assert_allclose(shown["A: isotropic ℓ2 radius R (exact)"], iso, rtol=1e-12)
    aniso, _ = pattern().radius_curve(fig_curves.P_GRID, 2)
    np.testing.assert_allclose(shown["B: anisotropic ℓ2 radius min sᵢ·R (sound)"], aniso,
                               rtol=1e-6)
    np.testing.assert_allclose(
        shown["B: ALM (∏sᵢ)^(1/d)·R (size measure, not a radius)"],
        pattern().alm_curve(fig_curves.P_GRID, 2), rtol=1e-6)
    table = text(at)
    assert "| A: isotropic ℓ2 radius R | 0.6408 | :green-badge[exact] |" in table
    assert ":gray-badge[size measure]" in table
    assert len(samples(at)) == 2


def test_default_says_why_the_pattern_ball_is_smaller_and_shows_the_isotropic_line():
    """Issue #12: the default (isotropic vs pattern ℓ2) draws A's R under B's equal ALM with
    open markers and a wider line, and says in one line why B's min sᵢ·R is smaller."""
    at = compare_page()
    lines = traces(chart_specs(at)["compare_curves"])
    iso = lines["A: isotropic ℓ2 radius R (exact)"]
    alm = lines["B: ALM (∏sᵢ)^(1/d)·R (size measure, not a radius)"]
    assert iso["mode"] == "lines+markers" and iso["marker"]["symbol"] == "circle-open"
    assert iso["line"]["width"] > alm["line"]["width"] and alm["line"]["dash"] == "dash"
    np.testing.assert_allclose(as_array(iso["y"]), as_array(alm["y"]), rtol=1e-5)  # same volume
    shown = text(at)
    assert "Why B's ball is smaller" in shown and "the **same volume** (ALM = 0.6408" in shown
    at.selectbox(key="cmp_b_preset").select("UCAN universal").run()
    assert not at.exception and not at.error
    assert "a region of **1.80×** the other's R in size (ALM)" in text(at)     # 1.151 / 0.6408


def test_mu_scale_is_symmetric_over_both_maps_with_a_learned_noise():
    at = compare_page({"cmp_b_npg": "learned universal (UCAN)"})
    assert not at.error
    axis, (mu_a, mu_b) = heatmaps(at, "compare_mu")
    engine = universal_noise()
    np.testing.assert_allclose(mu_b, engine.shift.reshape(28, 28).numpy(), rtol=1e-5, atol=1e-7)
    assert not np.any(mu_a)
    reach = max(np.abs(mu_a).max(), np.abs(mu_b).max())
    assert reach > 0.01
    assert (axis["cmin"], axis["cmid"], axis["cmax"]) == pytest.approx((-reach, 0.0, reach))
    scale = [colour for _, colour in axis["colorscale"]]     # diverging, 0 = neutral grey
    assert (scale[0], scale[len(scale) // 2], scale[-1]) == ("rgb(103,0,31)", fig_maps.NEUTRAL,
                                                             "rgb(5,48,97)")
    shown = curves(at)
    aniso, _ = engine.radius_curve(fig_curves.P_GRID, 2)
    np.testing.assert_allclose(shown["B: anisotropic ℓ2 radius min sᵢ·R (sound)"], aniso,
                               rtol=1e-6)


def test_norm_preset_and_seed_change_the_view():
    at = compare_page()
    first = samples(at)
    at.selectbox(key="cmp_b_preset").select("Laplace ℓ1").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="cmp_b_density").value == "laplace"
    assert at.selectbox(key="cmp_b_npg").value == "isotropic"
    assert at.radio(key="cmp_norm").value == "1"                        # the shared norm
    assert at.selectbox(key="cmp_b_preset").value is None
    assert "Preset: **Laplace ℓ1**" in text(at)
    shown = curves(at)
    assert list(shown) == ["A: isotropic ℓ1 radius R (exact)", "B: isotropic ℓ1 radius R (exact)"]
    for name, density in (("A", "gaussian"), ("B", "laplace")):
        expected, _ = make_noise(density, 0.5, 784).radius_curve(fig_curves.P_GRID, 1)
        np.testing.assert_allclose(shown[f"{name}: isotropic ℓ1 radius R (exact)"], expected,
                                   rtol=1e-12)
    assert shown["B: isotropic ℓ1 radius R (exact)"][-1] > shown[
        "A: isotropic ℓ1 radius R (exact)"][-1]                          # Laplace wins in ℓ1
    after_preset = samples(at)
    assert after_preset[0] == first[0] and after_preset[1] != first[1]   # only B changed
    at.number_input(key="cmp_seed").set_value(7).run()
    reseeded = samples(at)
    assert reseeded[0] != after_preset[0] and reseeded[1] != after_preset[1]


def test_learned_noise_on_a_colour_image_is_refused_with_a_reason():
    at = compare_page({"cmp_dataset": "CIFAR-10", "cmp_a_npg": "learned universal (UCAN)"})
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith("Cannot build noise A") and "pick an MNIST image" in message
    assert not chart_specs(at)
    at.selectbox(key="cmp_a_preset").select("UCAN universal").run()     # switches to MNIST
    assert not at.exception and not at.error
    assert at.selectbox(key="cmp_dataset").value == "mnist"
    assert at.selectbox(key="cmp_a_npg").value == "universal"
    assert set(chart_specs(at)) == {"compare_sigma", "compare_mu", "compare_curves"}
