"""Results page through Streamlit's AppTest: the table and the curves are
``ucan_core.analysis`` values of the bundled logs, Cohen et al.'s published numbers come out,
and uploads are checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import (
    as_array,
    chart_specs,
    download_labels,
    open_page,
    open_with_params,
    traces,
)

from app.figures.results import accuracy_figure
from ucan_core.analysis import summarize
from ucan_core.io.logs import read_log

ASSETS = Path(__file__).resolve().parents[2] / "assets"
RADII = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0)
COHEN_IMAGENET = {"0.25": "imagenet-resnet50-noise_0.25-sigma_0.25.tsv",
                  "0.50": "imagenet-resnet50-noise_0.50-sigma_0.50.tsv",
                  "1.00": "imagenet-resnet50-noise_1.00-sigma_1.00.tsv"}


def table(at) -> dict[tuple[str, str], dict]:
    frame = at.dataframe[0].value
    return {(row["log"], row["measure"]): row for row in frame.to_dict("records")}


def everything(at):
    """The former default view (until issue #12): every bundled model's log and Cohen et al.'s
    ImageNet logs."""
    ours = at.multiselect(key="res_ours")
    ours.set_value([n for n in ours.options if "/" not in n]).run()
    cohen = at.multiselect(key="res_cohen")
    cohen.set_value([n for n in cohen.options if n.startswith("Cohen ImageNet")]).run()
    assert not at.exception
    return at


def test_default_is_one_dataset_with_distinct_colours():
    at = open_page("results")
    assert not at.error
    assert set(table(at)) == {("mnist-gaussian-0.25", "radius"), ("mnist-gaussian-0.50", "radius"),
                              ("mnist-gaussian-1.00", "radius"), ("mnist-universal-0.50", "radius"),
                              ("mnist-universal-0.50", "alm")}
    lines = traces(chart_specs(at)["results_curves"])
    colours = {name.removesuffix(" (ALM)"): t["line"]["color"] for name, t in lines.items()}
    assert len(set(colours.values())) == len(colours) == 4


def test_choices_come_from_the_url():
    at = open_with_params("results", {"res_ours": ["mnist-gaussian-0.50"],
                                      "res_cohen": ["Cohen CIFAR-10 σ=0.25"],
                                      "res_alm": "false", "res_radii": "0 0.5"})
    assert not at.error
    assert set(table(at)) == {("mnist-gaussian-0.50", "radius"), ("Cohen CIFAR-10 σ=0.25", "radius")}
    assert "r=0.5" in table(at)[("mnist-gaussian-0.50", "radius")]
    assert at.checkbox(key="res_alm").value is False


def test_every_log_distinct_colours():
    lines = traces(chart_specs(everything(open_page("results")))["results_curves"])
    colours = {name.removesuffix(" (ALM)"): t["line"]["color"] for name, t in lines.items()}
    assert len(colours) >= 11 and len(set(colours.values())) == len(colours)


@pytest.mark.parametrize("radii", ["0 nan", "inf", "0.5 -inf"])
def test_non_finite_radii_are_refused(radii):
    at = open_page("results")
    at.text_input(key="res_radii").input(radii).run()
    assert not at.exception
    assert "finite (not nan or inf)" in at.error[0].value
    assert "r=3" in table(at)[("mnist-gaussian-0.25", "radius")]


def test_file_name_is_escaped_and_a_huge_idx_is_refused():
    at = open_page("results")
    data = b"idx\tlabel\tpredict\tradius\tcorrect\ttime\n" + b"1" * 40 + b"\t1\t1\t0.5\t1\t2\n"
    at.file_uploader(key="res_upload").set_value(("**x**_[a](b).tsv", data, "text/plain")).run()
    assert not at.exception and len(at.error) == 1
    message = at.error[0].value
    assert r"\*\*x\*\*\_\[a\](b).tsv line 2\: idx" in message and "is outside" in message


def test_table_equals_analysis_of_every_log():
    at = everything(open_page("results"))
    assert not at.error
    rows = table(at)
    expected = {}
    for path in [*sorted((ASSETS / "results").glob("*.tsv")),        # the bundled models,
                 *sorted((ASSETS / "results" / "photos").glob("*.tsv"))]:  # photos included
        log = read_log(path)
        expected[(path.stem, "radius")] = summarize(log, RADII)
        if "universal" in path.stem or "input-dependent" in path.stem:
            expected[(path.stem, "alm")] = summarize(log, RADII, "alm")
    for sigma, name in COHEN_IMAGENET.items():
        expected[(f"Cohen ImageNet σ={sigma}", "radius")] = summarize(
            read_log(ASSETS / "cohen_logs" / name), RADII)
    assert set(rows) == set(expected)
    for key, summary in expected.items():
        row = rows[key]
        assert row["rows"] == summary.rows and row["soundness"] == summary.soundness
        assert row["acr"] == pytest.approx(summary.acr, rel=1e-12)
        assert row["abstain_rate"] == pytest.approx(summary.abstain_rate, rel=1e-12)
        for r, accuracy in zip(RADII, summary.certified_accuracy):
            assert row[f"r={r:g}"] == pytest.approx(accuracy, rel=1e-12)
    assert rows[("mnist-input-dependent-0.50", "radius")]["soundness"] == "input-dependent"
    assert download_labels(at) == {"Table (CSV)", "Table (JSON)", "Curves (CSV)"}


def test_cohen_imagenet_reproduces_published_numbers():
    """Cohen et al. (2019) ImageNet, σ = 0.25: 427 rows, 67 % certified at r = 0 and 49 %
    at r = 0.5; σ = 0.5: 37 % at r = 1.0 (their Table 1 and logs)."""
    rows = table(everything(open_page("results")))
    quarter, half = rows[("Cohen ImageNet σ=0.25", "radius")], rows[("Cohen ImageNet σ=0.50",
                                                                      "radius")]
    assert quarter["rows"] == 427 and quarter["soundness"] == "unstated"
    assert quarter["r=0"] == pytest.approx(285 / 427) and round(quarter["r=0"], 2) == 0.67
    assert round(quarter["r=0.5"], 2) == 0.49
    assert round(half["r=1"], 2) == 0.37


def test_curves_are_analysis_values_on_a_grid():
    at = everything(open_page("results"))
    spec = chart_specs(at)["results_curves"]
    lines = traces(spec)
    assert set(lines) >= {"mnist-gaussian-0.25", "mnist-universal-0.50 (ALM)",
                          "Cohen ImageNet σ=0.25"}
    assert lines["mnist-universal-0.50 (ALM)"]["line"]["dash"] == "dash"
    curve = lines["Cohen ImageNet σ=0.25"]
    grid = as_array(curve["x"])
    assert grid[0] == 0 and len(grid) == 401
    log = read_log(ASSETS / "cohen_logs" / COHEN_IMAGENET["0.25"])
    np.testing.assert_allclose(as_array(curve["y"]), summarize(log, grid).certified_accuracy,
                               rtol=1e-12)
    at.checkbox(key="res_alm").uncheck().run()
    assert not any(name.endswith("(ALM)") for name in traces(chart_specs(at)["results_curves"]))
    assert all(measure == "radius" for _, measure in table(at))


def test_selection_radii_and_upload():
    at = open_page("results")
    at.multiselect(key="res_ours").set_value(["mnist-gaussian-0.25"]).run()
    at.multiselect(key="res_cohen").set_value([]).run()
    at.text_input(key="res_radii").input("0 0.5").run()
    assert list(table(at)) == [("mnist-gaussian-0.25", "radius")]
    data = (ASSETS / "results" / "mnist-gaussian-0.25.tsv").read_bytes()
    at.file_uploader(key="res_upload").set_value(("mine.tsv", data, "text/tab-separated-values"))
    at.run()
    assert not at.exception and not at.error
    rows = table(at)
    assert rows[("mine.tsv", "radius")]["r=0.5"] == rows[("mnist-gaussian-0.25", "radius")][
        "r=0.5"] == pytest.approx(0.956)
    assert "r=0.25" not in rows[("mine.tsv", "radius")]
    at.text_input(key="res_radii").input("0 -1").run()
    assert "Radii must be numbers ≥ 0" in at.error[0].value
    assert "r=3" in table(at)[("mine.tsv", "radius")]             # back to the defaults


def test_study_logs_are_offered_not_preselected():
    """Dual RS and routing logs (assets/results/dual-rs, routing) are listed as folder/stem,
    off by default, and tabulate as ``ucan_core.analysis`` says, ALM rows included."""
    at = open_page("results")
    offered = at.multiselect(key="res_ours").options
    studies = sorted(f"{p.parent.name}/{p.stem}" for folder in ("dual-rs", "routing")
                     for p in (ASSETS / "results" / folder).glob("*.tsv"))
    assert set(studies) <= set(offered) and not set(studies) & set(at.multiselect(key="res_ours").value)
    at.multiselect(key="res_ours").set_value(["dual-rs/mnist-dual-rs", "routing/mnist-route-alm"]).run()
    at.multiselect(key="res_cohen").set_value([]).run()
    rows = table(at)
    assert set(rows) == {("dual-rs/mnist-dual-rs", "radius"), ("routing/mnist-route-alm", "radius"),
                         ("routing/mnist-route-alm", "alm")}
    alm = summarize(read_log(ASSETS / "results/routing/mnist-route-alm.tsv"), RADII, "alm")
    assert rows[("routing/mnist-route-alm", "alm")]["r=1"] == pytest.approx(
        alm.certified_accuracy[RADII.index(1.0)], rel=1e-12)
    assert rows[("dual-rs/mnist-dual-rs", "radius")]["soundness"] == "sound"


@pytest.mark.parametrize("data, message", [
    (b"hello world\n", "is not a tab-separated log"),
    (b"idx\tlabel\tpredict\tcorrect\ttime\n0\t1\t1\t1\t0.5\n", "is a predict log"),
    (b"idx\tlabel\tradius\n", "missing column(s) predict, correct, time"),
    (b"idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\tx\t0.5\t1\t2\n", "line 2"),
    (b"\xff\xfe\x00binary", "is not a text TSV log"),
])
def test_bad_upload_gives_a_clear_message(data, message):
    at = open_page("results")
    at.file_uploader(key="res_upload").set_value(("bad.tsv", data, "text/plain")).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "bad.tsv" in at.error[0].value and message in at.error[0].value
    assert "/tmp" not in at.error[0].value                    # no temporary path leaks
    assert ("bad.tsv", "radius") not in table(at)


def test_accuracy_figure_colours_and_dashes():
    grid = np.array([0.0, 1.0])
    fig = accuracy_figure(grid, [("a", "radius", [1.0, 0.5]), ("a", "alm", [1.0, 0.8]),
                                 ("b", "radius", [0.9, 0.1])])
    assert [t.name for t in fig.data] == ["a", "a (ALM)", "b"]
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    assert fig.data[1].line.dash == "dash" and fig.layout.yaxis.tickformat == ".0%"
