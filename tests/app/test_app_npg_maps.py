"""Noise maps page through Streamlit's AppTest: every map equals the engine's, every column
carries its soundness tag, and the colour scales are shared."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import as_array, chart_specs, download_labels, open_page, text

from app.figures.maps import map_rows, maps_figure
from ucan_core.io.images import to_tensor
from ucan_core.noises.catalog import make_noise
from ucan_core.npg.learned import smoothing_noise
from ucan_core.npg.source import build_noise
from ucan_core.zoo.bundled import list_images, load_npg

NAMES = ("isotropic", "pattern ℓ2", "universal", "input-dependent")


def engine_maps(model_id: str, image_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(σ map, μ map) of a bundled model's learned NPG on a bundled image, 28×28."""
    x = to_tensor(list_images()[image_id].load(), (1, 28, 28))
    sigma = float(model_id.rsplit("-", 1)[1])
    noise = smoothing_noise(load_npg(model_id), make_noise("gaussian", sigma, 784), x)
    return (noise.std_map().reshape(28, 28).numpy(), noise.shift.reshape(28, 28).numpy())


def z(at, quantity: str, name: str) -> np.ndarray:
    """The heatmap of noise ``name`` in the σ or μ row ("sigma" / "mu")."""
    spec = chart_specs(at)[f"maps_{quantity}_row"]
    return as_array(next(t for t in spec["data"] if t["name"] == name)["z"])


def test_four_columns_equal_engine_maps_with_tags():
    at = open_page("npg_maps")
    assert not at.error
    assert set(chart_specs(at)) == {"maps_sigma_row", "maps_mu_row"}
    np.testing.assert_allclose(z(at, "sigma", "isotropic"), 0.5, rtol=1e-6)
    pattern = build_noise("gaussian", 0.5, (1, 28, 28), npg="pattern", pattern_norm=2)
    np.testing.assert_allclose(z(at, "sigma", "pattern ℓ2"),
                               pattern.std_map().reshape(28, 28).numpy(), rtol=1e-6)
    for kind in ("universal", "input-dependent"):
        std, shift = engine_maps(f"mnist-{kind}-0.50", "mnist-0000")
        np.testing.assert_allclose(z(at, "sigma", kind), std, rtol=1e-5)
        np.testing.assert_allclose(z(at, "mu", kind), shift, rtol=1e-5, atol=1e-7)
        assert np.ptp(std) > 0.1                               # learned maps are not flat
    shown = text(at)
    for name, tag in zip(NAMES, ("green-badge[sound]",) * 3 + ("orange-badge[input-dependent]",)):
        assert f"**{name}** :{tag}" in shown
    assert "Not a certificate for the deployed classifier" in shown
    assert download_labels(at) == {"Maps (CSV)", "Summary (JSON)"}


def test_colour_scales_are_shared_sequential_and_diverging():
    at = open_page("npg_maps")
    sigma, mu = chart_specs(at)["maps_sigma_row"], chart_specs(at)["maps_mu_row"]
    assert [t["name"] for t in sigma["data"]] == list(NAMES)
    assert {t["coloraxis"] for t in sigma["data"] + mu["data"]} == {"coloraxis"}
    axis = sigma["layout"]["coloraxis"]
    assert axis["cmin"] == pytest.approx(min(z(at, "sigma", n).min() for n in NAMES))
    assert axis["cmax"] == pytest.approx(max(z(at, "sigma", n).max() for n in NAMES))
    assert axis["colorscale"][0][1] == "#440154"                       # Viridis
    axis = mu["layout"]["coloraxis"]
    assert axis["cmin"] == -axis["cmax"] and axis["cmid"] == 0
    assert axis["cmax"] == pytest.approx(max(np.abs(z(at, "mu", n)).max() for n in NAMES))
    assert axis["colorscale"][0][1] == "rgb(103,0,31)"                 # RdBu


def test_input_dependent_map_follows_the_image_universal_does_not():
    at = open_page("npg_maps")
    universal, dependent = z(at, "sigma", "universal"), z(at, "sigma", "input-dependent")
    at.selectbox(key="maps_image").select("mnist-0001").run()
    assert not at.exception
    np.testing.assert_array_equal(universal, z(at, "sigma", "universal"))
    assert not np.allclose(dependent, z(at, "sigma", "input-dependent"))
    std, _ = engine_maps("mnist-input-dependent-0.50", "mnist-0001")
    np.testing.assert_allclose(z(at, "sigma", "input-dependent"), std, rtol=1e-5)


def test_sigma_and_pattern_controls():
    at = open_page("npg_maps")
    at.selectbox(key="maps_sigma").select("1").run()
    at.radio(key="maps_pattern").set_value("inf").run()
    at.slider(key="maps_kappa").set_value(2.0).run()
    assert not at.exception and not at.error
    assert "`mnist-universal-1.00` and `mnist-input-dependent-1.00`" in text(at)
    np.testing.assert_allclose(z(at, "sigma", "isotropic"), 1.0, rtol=1e-6)
    engine = build_noise("gaussian", 1.0, (1, 28, 28), npg="pattern", pattern_norm="inf",
                         kappa=2.0)
    np.testing.assert_allclose(z(at, "sigma", "pattern ℓ∞"),
                               engine.std_map().reshape(28, 28).numpy(), rtol=1e-6)


def test_bad_upload_keeps_the_bundled_image():
    at = open_page("npg_maps")
    at.file_uploader(key="maps_upload").set_value(("x.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert len(at.error) == 1 and "x.png" in at.error[0].value
    np.testing.assert_allclose(z(at, "sigma", "input-dependent"),
                               engine_maps("mnist-input-dependent-0.50", "mnist-0000")[0],
                               rtol=1e-5)


def test_map_rows_and_maps_figure():
    std = np.stack([np.full((1, 2, 2), 0.5), np.arange(4.0).reshape(1, 2, 2) + 1])
    shift = np.stack([np.zeros((1, 2, 2)), np.full((1, 2, 2), -0.2)])
    rows = map_rows(std, shift, ["a", "b"])
    assert len(rows) == 8 and rows[-1] == {"noise": "b", "channel": 0, "row": 1, "col": 1,
                                           "sigma": 4.0, "mu": pytest.approx(-0.2)}
    sigma = maps_figure(std, ["a", "b"], "sigma")
    assert (sigma.layout.coloraxis.cmin, sigma.layout.coloraxis.cmax) == (0.5, 4.0)
    assert [a.text for a in sigma.layout.annotations] == ["a", "b"]
    mu = maps_figure(shift, ["a", "b"], "mu")
    assert mu.layout.coloraxis.cmax == pytest.approx(0.2) and mu.layout.coloraxis.cmid == 0
    assert maps_figure(np.zeros((1, 1, 2, 2)), ["a"], "mu").layout.coloraxis.cmax == 1.0
