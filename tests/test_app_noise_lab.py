"""Noise Lab page through Streamlit's AppTest (no browser), plus the pure figure builders."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import as_array
from PIL import Image
from streamlit.testing.v1 import AppTest

from app import figures
from ucan_core.noises import make_noise
from ucan_core.npg import build_noise

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


# ---------------------------------------------------------------------------------- helpers


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly specs by the start of their title ("σ map", "μ map", "Certified")."""
    out = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        title = spec["layout"]["title"]["text"]
        out["Certified" if title.startswith("Certified") else title.split(":")[0]] = spec
    return out


def curve_traces(at: AppTest) -> dict[str, np.ndarray]:
    """Line traces of the radius curve by name (markers left out)."""
    spec = charts(at)["Certified"]
    return {t["name"]: as_array(t["y"]) for t in spec["data"] if t.get("mode") == "lines"}


def all_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [i.value for i in at.info] + [e.value for e in at.error]
    return "\n".join(parts)


def png_bytes(width: int, height: int, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(1)
    channels = 3 if mode == "RGB" else 1
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    image = Image.fromarray(pixels if channels == 3 else pixels[..., 0], mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def samples_url(at: AppTest) -> str:
    """The samples grid is the second st.image (after the input); its media URL is a hash
    of the PNG bytes, so equal URLs mean equal bytes."""
    images = at.get("image")
    assert len(images) == 2
    return images[1].value[0]


# ---------------------------------------------------------------------------------- page


def test_initial_render_defaults_and_sigma_map():
    at = run_app()
    assert not at.error
    assert at.selectbox(key="dataset").value == "mnist"
    assert at.selectbox(key="image_mnist").value == "mnist-0000"
    assert at.selectbox(key="density").value == "gaussian"
    assert at.slider(key="sigma").value == 0.5
    assert at.radio(key="norm_gaussian").value == "2"
    assert at.selectbox(key="npg").value == "isotropic"
    assert at.slider(key="p_a").value == 0.9
    assert at.number_input(key="seed").value == 0
    specs = charts(at)
    sigma = specs["σ map"]["data"][0]
    assert sigma["type"] == "heatmap" and sigma["colorscale"][0][1] == "#440154"  # Viridis
    assert "pixel units" in sigma["colorbar"]["title"]["text"]
    z = as_array(sigma["z"])
    assert z.shape == (28, 28)
    np.testing.assert_allclose(z, 0.5, rtol=1e-6)
    mu = specs["μ map"]["data"][0]
    assert mu["zmid"] == 0 and np.all(as_array(mu["z"]) == 0)
    traces = curve_traces(at)
    assert list(traces) == ["isotropic ℓ2 radius R (exact)"]
    expected, kind = make_noise("gaussian", 0.5, 784).radius_curve(figures.P_GRID, 2)
    assert kind == "exact"
    np.testing.assert_allclose(traces["isotropic ℓ2 radius R (exact)"], expected, rtol=1e-12)
    x = as_array(specs["Certified"]["data"][0]["x"])
    assert len(x) == 200 and x.min() > 0.5 and x.max() == pytest.approx(0.9999)
    text = all_text(at)
    assert "d = 784" in text and "σ = 0.50" in text and "λ = 0.5" in text
    assert ":green-badge[exact]" in text and "0.5·Φ⁻¹(0.9)" in text and "0.6408" in text


def test_pattern_npg_sigma_map_and_anisotropic_traces():
    at = run_app()
    at.selectbox(key="npg").select("pattern-2").run()
    assert not at.exception and not at.error
    z = as_array(charts(at)["σ map"]["data"][0]["z"])
    assert z.shape == (28, 28)
    assert z.max() > 1.5 * z.min()                          # really anisotropic
    assert math.exp(np.log(z).mean()) == pytest.approx(0.5, rel=1e-5)   # geometric mean σ
    engine = build_noise("gaussian", 0.5, (1, 28, 28), npg="pattern", pattern_norm=2)
    np.testing.assert_allclose(z, engine.std_map().reshape(28, 28).numpy(), rtol=1e-6)
    traces = curve_traces(at)
    names = list(traces)
    assert names[0] == "isotropic ℓ2 radius R (exact)"
    assert any(n.startswith("anisotropic ℓ2 radius min sᵢ·R") and n.endswith("(sound)")
               for n in names)
    alm = [n for n in names if n.startswith("ALM")]
    assert len(alm) == 1
    aniso = next(t for n, t in traces.items() if n.startswith("anisotropic"))
    expected, _ = engine.radius_curve(figures.P_GRID, 2)
    np.testing.assert_allclose(aniso, expected, rtol=1e-6)
    np.testing.assert_allclose(traces[alm[0]], engine.alm_curve(figures.P_GRID, 2), rtol=1e-6)
    spec = charts(at)["Certified"]
    assert next(t for t in spec["data"] if t["name"] == alm[0])["line"]["dash"] == "dash"
    assert ":gray-badge[size measure]" in all_text(at)


def test_curve_scales_with_sigma():
    at = run_app()
    low = curve_traces(at)["isotropic ℓ2 radius R (exact)"]
    at.slider(key="sigma").set_value(1.0).run()
    assert not at.exception
    high = curve_traces(at)["isotropic ℓ2 radius R (exact)"]
    np.testing.assert_allclose(high, 2.0 * low, rtol=1e-12)
    expected, _ = make_noise("gaussian", 1.0, 784).radius_curve(figures.P_GRID, 2)
    np.testing.assert_allclose(high, expected, rtol=1e-12)
    assert np.all(as_array(charts(at)["σ map"]["data"][0]["z"]) == pytest.approx(1.0))


def test_laplace_l1_is_exact_and_l2_is_sound():
    at = run_app()
    at.selectbox(key="density").select("laplace").run()
    assert not at.exception
    assert at.radio(key="norm_laplace").value == "1"       # the density's native norm
    traces = curve_traces(at)
    assert list(traces) == ["isotropic ℓ1 radius R (exact)"]
    expected, kind = make_noise("laplace", 0.5, 784).radius_curve(figures.P_GRID, 1)
    assert kind == "exact"
    np.testing.assert_allclose(traces["isotropic ℓ1 radius R (exact)"], expected, rtol=1e-12)
    text = all_text(at)
    assert ":green-badge[exact]" in text and "λ = σ/√2" in text
    at.radio(key="norm_laplace").set_value("2").run()
    assert list(curve_traces(at)) == ["isotropic ℓ2 radius R (sound)"]
    assert ":blue-badge[sound]" in all_text(at)


def test_upload_png_then_bad_file(tmp_path):
    path = tmp_path / "upload.png"
    path.write_bytes(png_bytes(48, 40))
    at = run_app()
    at.radio(key="source").set_value("Upload").run()
    assert not at.exception
    at.file_uploader(key="upload").set_value(("upload.png", path.read_bytes(), "image/png")).run()
    assert not at.exception and not at.error
    assert as_array(charts(at)["σ map"]["data"][0]["z"]).shape == (40, 48)
    assert "d = 5,760 (3×40×48)" in all_text(at)
    at.file_uploader(key="upload").set_value(("x.png", b"not an image", "image/png")).run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "x.png" in message and "not a readable PNG or JPEG" in message
    # it keeps working on the previous (good) upload
    assert as_array(charts(at)["σ map"]["data"][0]["z"]).shape == (40, 48)
    assert len(at.get("image")) == 2


def test_bad_first_upload_falls_back_to_bundled_image():
    at = run_app()
    at.radio(key="source").set_value("Upload").run()
    at.file_uploader(key="upload").set_value(("x.png", b"not an image", "image/png")).run()
    assert not at.exception and len(at.error) == 1
    assert as_array(charts(at)["σ map"]["data"][0]["z"]).shape == (28, 28)


def test_same_seed_same_samples():
    first = run_app()
    url = samples_url(first)
    assert samples_url(run_app()) == url                    # a fresh session, same bytes
    first.number_input(key="seed").set_value(1).run()
    other = samples_url(first)
    assert other != url
    first.number_input(key="seed").set_value(0).run()
    assert samples_url(first) == url


@pytest.mark.parametrize("density", ["cauchy", "laplace_gaussian", "expmix"])
def test_density_without_closed_form_shows_info(density):
    at = run_app()
    at.selectbox(key="density").select(density).run()
    assert not at.exception and not at.error
    assert any("universal" in i.value and "planned" in i.value for i in at.info)
    assert set(charts(at)) == {"σ map", "μ map"}            # maps, but no curve
    assert len(at.get("image")) == 2                        # input and samples


def test_engine_error_is_shown_not_raised():
    at = run_app()
    at.selectbox(key="density").select("pareto").run()
    at.number_input(key="param_pareto_a").set_value(1.5).run()
    assert not at.exception
    assert len(at.error) == 1 and "pareto a must be > 2" in at.error[0].value


def test_cifar_image_pattern_linf():
    at = run_app()
    at.selectbox(key="dataset").select("cifar10").run()
    at.selectbox(key="npg").select("pattern-inf").run()
    assert not at.exception and not at.error
    sigma = charts(at)["σ map"]
    assert as_array(sigma["data"][0]["z"]).shape == (32, 32)
    assert "channel 1 of 3" in sigma["layout"]["title"]["text"]
    assert "d = 3,072 (3×32×32)" in all_text(at)


# ---------------------------------------------------------------------------------- figures


def test_map_for_display_downsamples_and_reduces_channels():
    big = np.random.default_rng(0).random((3, 600, 500)).astype(np.float32)
    z, note = figures.map_for_display(big)
    assert max(z.shape) <= figures.MAX_HEATMAP_SIDE and "mean of 3 channels" in note
    same = np.broadcast_to(big[0], big.shape)
    z, note = figures.map_for_display(same[:, :200, :200])
    assert z.shape == (200, 200) and "channel 1 of 3" in note and "every" not in note


def test_grid_png_clips_and_is_deterministic():
    samples = np.random.default_rng(0).normal(0.5, 1.0, (5, 3, 8, 10))
    data = figures.grid_png(samples, ncols=3, min_tile=16, pad=2)
    assert data == figures.grid_png(samples, ncols=3, min_tile=16, pad=2)
    image = Image.open(io.BytesIO(data))
    assert image.mode == "RGB" and image.size == (3 * 20 + 2 * 2, 2 * 16 + 2)
    grey = Image.open(io.BytesIO(figures.grid_png(samples[:, :1], ncols=5)))
    assert grey.mode == "L"


def test_fill_formula_substitutes_whole_symbols():
    values = figures.values_table(0.5, 0.3536, 784, 0.9, {"a": 3.0, "shape": 2.0})
    assert figures.substitute("2λd(p_A − ½)", values) == "2·0.3536·784·(0.9 − ½)"
    assert figures.substitute("atanh(a/(a+1)) max(d)", values) == "atanh(3/(3+1)) max(784)"
    lines = figures.fill_formula("b·ln tan(π·p_A/2),  b = 2σ/π", values, 0.5866, "exact", "1")
    assert lines[0] == "`R_1 = b·ln tan(π·p_A/2)`"
    assert "0.3536·ln tan(π·0.9/2)" in lines[1] and ":green-badge[exact]" in lines[2]
    assert "2·0.5/π" in lines[3]
