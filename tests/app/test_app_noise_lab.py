"""Noise Lab page through Streamlit's AppTest (no browser), plus the pure figure builders."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import as_array, open_page, open_with_params
from PIL import Image
from streamlit.testing.v1 import AppTest

from app import state
from app.figures import common as fig_common
from app.figures import curves as fig_curves
from app.figures import formulas as fig_formulas
from app.figures import images as fig_images
from app.figures import learn as learn_figures
from app.figures import maps as fig_maps
from app.figures import votes as fig_votes
from app.widgets import presets
from ucan_core.io.images import to_tensor
from ucan_core.noises.catalog import make_noise
from ucan_core.npg.learned import smoothing_noise
from ucan_core.npg.source import build_noise
from ucan_core.zoo.bundled import list_images, load_npg

# ---------------------------------------------------------------------------------- helpers


def run_app(params: dict[str, str] | None = None) -> AppTest:
    """The Noise Lab opened with these URL parameters."""
    return open_with_params("noise_lab", params, timeout=60)


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
    expected, kind = make_noise("gaussian", 0.5, 784).radius_curve(fig_curves.P_GRID, 2)
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
    expected, _ = engine.radius_curve(fig_curves.P_GRID, 2)
    np.testing.assert_allclose(aniso, expected, rtol=1e-6)
    np.testing.assert_allclose(traces[alm[0]], engine.alm_curve(fig_curves.P_GRID, 2), rtol=1e-6)
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
    expected, _ = make_noise("gaussian", 1.0, 784).radius_curve(fig_curves.P_GRID, 2)
    np.testing.assert_allclose(high, expected, rtol=1e-12)
    assert np.all(as_array(charts(at)["σ map"]["data"][0]["z"]) == pytest.approx(1.0))


def test_laplace_l1_is_exact_and_l2_is_sound():
    at = run_app()
    at.selectbox(key="density").select("laplace").run()
    assert not at.exception
    assert at.radio(key="norm_laplace").value == "1"       # the density's native norm
    traces = curve_traces(at)
    assert list(traces) == ["isotropic ℓ1 radius R (exact)"]
    expected, kind = make_noise("laplace", 0.5, 784).radius_curve(fig_curves.P_GRID, 1)
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
    assert any("universal" in i.value and "Radius" in i.value for i in at.info)
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


# ---------------------------------------------------------------------------------- presets

#: What each preset must set: density, σ, norm, NPG.
EXPECTED_PRESETS = {
    "Cohen Gaussian ℓ2 σ = 0.5": ("gaussian", 0.5, "2", "isotropic"),
    "Laplace ℓ1": ("laplace", 0.5, "1", "isotropic"),
    "Uniform ℓ1": ("uniform", 0.5, "1", "isotropic"),
    "UCAN pattern ℓ2": ("gaussian", 0.5, "2", "pattern-2"),
    "UCAN universal": ("gaussian", 0.5, "2", "universal"),
    "UCAN input-dependent (unsound)": ("gaussian", 0.5, "2", "input-dependent"),
}


def noise_widgets(at: AppTest) -> tuple[str, float, str, str]:
    density = at.selectbox(key="density").value
    return (density, at.slider(key="sigma").value, at.radio(key=f"norm_{density}").value,
            at.selectbox(key="npg").value)


def test_presets_are_the_ones_expected():
    assert list(presets.PRESETS) == list(EXPECTED_PRESETS)


@pytest.mark.parametrize("name", list(EXPECTED_PRESETS))
def test_preset_sets_the_widgets_and_the_url_reproduces_the_view(name):
    at = run_app({"seed": "3"})
    at.slider(key="sigma").set_value(1.2).run()                 # start away from every preset
    at.selectbox(key="npg").select("pattern-inf").run()
    at.slider(key="kappa").set_value(2.5).run()
    assert "Custom settings" in all_text(at)
    at.selectbox(key="preset").select(name).run()
    assert not at.exception and not at.error
    assert noise_widgets(at) == EXPECTED_PRESETS[name]
    assert at.selectbox(key="preset").value is None             # back to the placeholder
    assert f"Preset: **{name}**" in all_text(at)
    if EXPECTED_PRESETS[name][3] == "pattern-2":
        assert (at.slider(key="kappa").value, at.slider(key="iota").value) == (
            presets.DEFAULT_KAPPA, presets.DEFAULT_IOTA)
    params = dict(at.query_params)
    assert params.get("seed") == "3"
    again = run_app(params)                                      # the link, in a new session
    assert noise_widgets(again) == EXPECTED_PRESETS[name]
    assert again.number_input(key="seed").value == 3
    assert f"Preset: **{name}**" in all_text(again)
    assert samples_url(again) == samples_url(at)
    np.testing.assert_array_equal(as_array(charts(again)["σ map"]["data"][0]["z"]),
                                  as_array(charts(at)["σ map"]["data"][0]["z"]))


def test_learned_presets_switch_to_mnist_and_use_the_bundled_generators():
    at = run_app()
    at.selectbox(key="dataset").select("cifar10").run()
    at.selectbox(key="preset").select("UCAN input-dependent (unsound)").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="dataset").value == "mnist"
    x = to_tensor(list_images()["mnist-0000"].load(), (1, 28, 28))
    for npg, tag in (("input-dependent", "orange-badge[input-dependent]"),
                     ("universal", "green-badge[sound]")):
        if npg == "universal":
            at.selectbox(key="preset").select("UCAN universal").run()
        engine = smoothing_noise(load_npg(f"mnist-{npg}-0.50"), make_noise("gaussian", 0.5, 784),
                                 x)
        specs = charts(at)
        np.testing.assert_allclose(as_array(specs["σ map"]["data"][0]["z"]),
                                   engine.std_map().reshape(28, 28).numpy(), rtol=1e-5)
        np.testing.assert_allclose(as_array(specs["μ map"]["data"][0]["z"]),
                                   engine.shift.reshape(28, 28).numpy(), rtol=1e-5, atol=1e-7)
        aniso = next(t for n, t in curve_traces(at).items() if n.startswith("anisotropic"))
        np.testing.assert_allclose(aniso, engine.radius_curve(fig_curves.P_GRID, 2)[0], rtol=1e-6)
        text = all_text(at)
        assert f"maps of `mnist-{npg}-0.50`" in text and tag in text
        assert (len(at.warning) == 1) == (npg == "input-dependent")


def test_learned_npg_on_a_colour_image_is_refused_with_a_reason():
    at = run_app({"dataset": "CIFAR-10", "npg": "learned universal (UCAN)"})
    assert len(at.error) == 1 and "pick an MNIST image" in at.error[0].value
    assert not charts(at)


# ---------------------------------------------------------------------------------- teaching


def widget_keys(at: AppTest) -> set[str]:
    return {w.key for kind in ("number_input", "slider", "radio", "select_slider", "selectbox")
            for w in at.get(kind)}


def test_teaching_mode_hides_advanced_controls_and_uses_defaults():
    at = run_app({"npg": "pattern ℓ2", "density": "Generalized normal (gennorm)"})
    assert {"seed", "kappa", "iota", "param_gennorm_shape"} <= widget_keys(at)
    at.slider(key="kappa").set_value(3.0).run()
    at.number_input(key="seed").set_value(4).run()
    sigma_z = as_array(charts(at)["σ map"]["data"][0]["z"])
    at.toggle(key="teaching").set_value(True).run()
    assert not at.exception and not at.error
    assert not {"seed", "kappa", "iota", "param_gennorm_shape"} & widget_keys(at)
    assert {"density", "sigma", "npg", "p_a"} <= widget_keys(at)      # the essentials stay
    text = all_text(at)
    assert "(seed 0)" in text and "κ = 1, ι = 1" in text
    engine = build_noise("gennorm", 0.5, (1, 28, 28), npg="pattern", pattern_norm=2)
    teaching_z = as_array(charts(at)["σ map"]["data"][0]["z"])
    np.testing.assert_allclose(teaching_z, engine.std_map().reshape(28, 28).numpy(), rtol=1e-6)
    assert not np.allclose(teaching_z, sigma_z)                   # κ = 3 is no longer used
    # plain words: no λ and no ALM (a size, not a guarantee), the region in a sentence
    curve_names = [t["name"] for t in charts(at)["Certified"]["data"]]
    assert not [n for n in curve_names if "ALM" in n] and "λ = " not in text
    assert "the largest ball inside it" in text and "ALM = " not in text
    at.toggle(key="teaching").set_value(False).run()
    assert {"seed", "kappa", "iota"} <= widget_keys(at)
    assert [t["name"] for t in charts(at)["Certified"]["data"] if "ALM" in t["name"]]


@pytest.mark.parametrize("view, hidden, visible", [
    ("compare", {"cmp_seed", "cmp_b_kappa", "cmp_b_iota"}, {"cmp_a_sigma", "cmp_norm"}),
    ("region", {"rg_kappa", "rg_iota"}, {"rg_sigma", "rg_A_row_28"}),
    ("npg_maps", {"maps_kappa", "maps_iota"}, {"maps_sigma", "maps_pattern"}),
    ("radius", {"rd_mode", "rd_points", "rd_scales"}, {"rd_sigma", "rd_norm"}),
    ("learn", {"learn_seed"}, {"learn_model", "learn_alpha"}),
    ("certify", {"cert_seed", "cert_batch", "cert_device"}, {"cert_n0", "cert_n", "cert_alpha"}),
])
def test_teaching_mode_hides_advanced_controls_on_every_page(view, hidden, visible):
    params = {"rg_npg": "pattern ℓ2"} if view == "region" else {}
    for teaching in (False, True):
        at = open_with_params(view, {"teaching": str(teaching).lower(), **params}, timeout=300)
        assert not at.error
        assert at.toggle(key="teaching").value is teaching
        keys = widget_keys(at)
        assert visible <= keys
        assert not hidden & keys if teaching else hidden <= keys


# ---------------------------------------------------------------------------------- figure files


def image_options(at: AppTest) -> dict[str, dict]:
    """Each chart's Plotly ``toImageButtonOptions`` (its camera button), by chart key."""
    return {e.proto.id.split("-", 2)[2]: json.loads(e.proto.config)["toImageButtonOptions"]
            for e in at.get("plotly_chart")}


def test_every_chart_downloads_in_the_sidebar_format_under_a_page_and_figure_name():
    at = run_app()
    names = {"sigma_map": "ucan-noise-lab-sigma-map", "mu_map": "ucan-noise-lab-mu-map",
             "radius_curve": "ucan-noise-lab-radius-curve"}
    assert image_options(at) == {key: {"format": "png", "filename": name, "scale": 2}
                                 for key, name in names.items()}
    for element in at.get("plotly_chart"):           # the camera button alone, no logo
        config = json.loads(element.proto.config)
        assert config["modeBarButtons"] == [["toImage"]] and config["displaylogo"] is False
    at.radio(key=state.FIGURE_FORMAT_KEY).set_value("SVG").run()
    assert image_options(at) == {key: {"format": "svg", "filename": name}
                                 for key, name in names.items()}
    compare = open_with_params("compare", {state.FIGURE_FORMAT_KEY: "SVG"})  # from the URL
    assert image_options(compare) == {
        f"compare_{name}": {"format": "svg", "filename": f"ucan-compare-{name}"}
        for name in ("sigma", "mu", "curves")}


def test_pages_draw_plotly_charts_only_through_widgets_chart():
    views = Path(state.__file__).parent / "views"
    for view in views.glob("*.py"):
        assert "plotly_chart(" not in view.read_text(encoding="utf-8"), view.name


# ---------------------------------------------------------------------------------- themes

#: Colours that vanish on one of the two themes' backgrounds.
THEME_BOUND = {"white", "black", "#fff", "#ffffff", "#000", "#000000", "rgb(255,255,255)",
               "rgb(0,0,0)"}


def fixed_colours(node, path: str = "") -> list[tuple[str, str]]:
    """(path, colour) of every colour set in a Plotly JSON spec (colour scales left out)."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "colorscale":
                continue
            if isinstance(value, str) and key.endswith("color"):
                out.append((f"{path}.{key}", value.replace(" ", "").lower()))
            else:
                out += fixed_colours(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            out += fixed_colours(item, path)
    return out


def test_charts_follow_the_streamlit_theme():
    at = run_app({"npg": "pattern ℓ2"})
    assert {e.proto.theme for e in at.get("plotly_chart")} == {"streamlit"}
    compare = open_page("compare")
    assert {e.proto.theme for e in compare.get("plotly_chart")} == {"streamlit"}


def test_figures_set_no_theme_bound_colours_or_backgrounds():
    rng = np.random.default_rng(0)
    curve = fig_curves.Curve("R", np.linspace(0, 1, 200), "exact", 0.5)
    built = [
        fig_maps.sigma_map_figure(rng.random((28, 28))),
        fig_maps.mu_map_figure(rng.normal(size=(28, 28))),
        fig_curves.radius_curve_figure(fig_curves.P_GRID, [curve], 0.9, "2"),
        fig_votes.p_a_interval_figure(0.9, 0.88, 0.87, 0.93, 0.001),
        fig_votes.votes_figure(["0", "1"], [90, 10], [9, 1], 0, 100, 10),
        fig_maps.maps_figure([rng.random((28, 28))] * 2, ["A", "B"], "sigma"),
        learn_figures.monte_carlo_figure([learn_figures.Stage(
            10, 10, (9, 1), 0, 9, 0.9, 0.6, 0.55, 0.99, 0.1, False)], ["0", "1"], 0),
    ]
    for fig in built:
        spec = json.loads(fig.to_json())
        layout = spec["layout"]
        assert "paper_bgcolor" not in layout and "plot_bgcolor" not in layout
        colours = fixed_colours({"data": spec["data"], "layout": {
            k: v for k, v in layout.items() if k != "template"}})
        bad = [(path, c) for path, c in colours
               if c in THEME_BOUND and not path.endswith("marker.line.color")]
        assert not bad, bad
        legend = layout.get("legend", {}).get("bgcolor")
        assert legend in (None, fig_common.LEGEND_BG)
    assert fig_maps.sigma_map_figure(np.ones((2, 2))).data[0].colorscale[0][1] == "#440154"
    mu = fig_maps.mu_map_figure(np.ones((2, 2))).data[0]
    assert mu.zmid == 0 and mu.colorscale[0][1] == "rgb(103,0,31)"
    # μ = 0: no white square on the dark theme, a flat neutral map that says so
    flat = fig_maps.mu_map_figure(np.zeros((1, 4, 4)))
    assert {colour for _, colour in flat.data[0].colorscale} == {fig_maps.NEUTRAL}
    assert flat.data[0].showscale is False
    assert flat.layout.annotations[0].text.startswith("μ = 0 everywhere")
    assert dict(fig_maps.MU_SCALE)[0.5] == fig_maps.NEUTRAL


# ---------------------------------------------------------------------------------- figures


def test_map_for_display_downsamples_and_reduces_channels():
    big = np.random.default_rng(0).random((3, 600, 500)).astype(np.float32)
    z, note = fig_maps.map_for_display(big)
    assert max(z.shape) <= fig_maps.MAX_HEATMAP_SIDE and "mean of 3 channels" in note
    same = np.broadcast_to(big[0], big.shape)
    z, note = fig_maps.map_for_display(same[:, :200, :200])
    assert z.shape == (200, 200) and "channel 1 of 3" in note and "every" not in note


def test_grid_png_clips_and_is_deterministic():
    samples = np.random.default_rng(0).normal(0.5, 1.0, (5, 3, 8, 10))
    data = fig_images.grid_png(samples, ncols=3, min_tile=16, pad=2)
    assert data == fig_images.grid_png(samples, ncols=3, min_tile=16, pad=2)
    image = Image.open(io.BytesIO(data))
    assert image.mode == "RGB" and image.size == (3 * 20 + 2 * 2, 2 * 16 + 2)
    grey = Image.open(io.BytesIO(fig_images.grid_png(samples[:, :1], ncols=5)))
    assert grey.mode == "L"


def test_fill_formula_substitutes_whole_symbols():
    values = fig_formulas.values_table(0.5, 0.3536, 784, 0.9, {"a": 3.0, "shape": 2.0})
    assert fig_formulas.substitute("2λd(p_A − ½)", values) == "2·0.3536·784·(0.9 − ½)"
    assert fig_formulas.substitute("atanh(a/(a+1)) max(d)", values) == "atanh(3/(3+1)) max(784)"
    lines = fig_formulas.fill_formula("b·ln tan(π·p_A/2),  b = 2σ/π", values, 0.5866, "exact", "1")
    assert lines[0] == "`R_1 = b·ln tan(π·p_A/2)`"
    assert "0.3536·ln tan(π·0.9/2)" in lines[1] and ":green-badge[exact]" in lines[2]
    assert "2·0.5/π" in lines[3]
