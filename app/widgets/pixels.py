"""The Region page's pixel picker: row/column (and channel) inputs bound to the URL for
pixels A and B, and the image (or its σ map) under a transparent marker layer, whose click
moves A or B (the chart's ``on_select`` writes the clicked pixel into the inputs before they
render)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import numpy as np
import streamlit as st

from app.figures.maps import sigma_map_figure
from app.figures.region import image_figure, mark_pixels, picked_pixel, pixel_grid
from app.widgets.output import chart, escape_markdown

PREFIX = "rg_"
PICKER, CLICK_TARGET, CLICK_ERROR = "region_pixels", f"{PREFIX}click", "region_click_error"
URL_REFUSALS = "url_refusals"
#: URL keys of the pixel inputs: pixel, row or column, and the image side they are for.
PIXEL_KEY = re.compile(rf"{PREFIX}([AB])_(row|col)_(\d+)")
PICKER_VIEWS = {"image": "image", "sigma": "σ map"}


def url_value_check(checks: dict[str, tuple[Callable[[str], bool], str]],
                    shape: tuple[int, int, int]) -> None:
    """Refuse the URL's values of widgets that are not valid (``checks``: key → (test, why
    it is refused), plus pixel rows and columns by their key's size; ``shape``: the image's,
    for the message): drop them from the URL
    and rerun once before any widget reads them (Streamlit would ignore them silently, or fail
    on a huge integer); :func:`show_url_refusals` then says so, values escaped and shortened."""
    refused = []
    for key in list(st.query_params):
        raw = st.query_params[key]
        pixel = PIXEL_KEY.fullmatch(key)
        if pixel is not None:
            name, axis, size = pixel.group(1), pixel.group(2), int(pixel.group(3))
            valid = (raw.isascii() and raw.isdigit() and len(raw) <= 6 and int(raw) < size)
            _, h, w = shape
            image = (f"this {h}×{w} image" if size == (h if axis == "row" else w)
                     else f"a {size}-pixel image {axis}")
            why = f"not a pixel of {image} (0–{size - 1}): pixel {name} uses its default"
        elif key in checks:
            valid, why = checks[key][0](raw), checks[key][1]
        else:
            continue
        if not valid:
            shown = raw if len(raw) <= 24 else f"{raw[:20]}… ({len(raw):,} characters)"
            refused.append(f"The link's {key}={escape_markdown(shown)} is {why}.")
            del st.query_params[key]
    if refused:
        st.session_state[URL_REFUSALS] = refused
        st.rerun()


def show_url_refusals() -> None:
    """The URL values :func:`url_value_check` refused since the last time, as warnings."""
    for message in st.session_state.pop(URL_REFUSALS, []):
        st.warning(message)


def number_check(low: float, high: float) -> Callable[[str], bool]:
    """A :func:`url_value_check` test: a plain decimal number in [low, high]."""
    def valid(raw: str) -> bool:
        if not (raw.isascii() and len(raw) <= 40):
            return False
        try:
            value = float(raw)
        except ValueError:
            return False
        return low <= value <= high
    return valid


def pixel_inputs(name: str, shape: tuple[int, int, int], row: int,
                 col: int) -> tuple[int, int, int]:
    """Channel (colour images only), row and column of pixel ``name``, default (row, col)."""
    c, h, w = shape
    left, right = st.columns(2)
    r = left.number_input(f"Pixel {name} row", 0, h - 1, row, 1, key=f"{PREFIX}{name}_row_{h}",
                          bind="query-params",
                          help=f"Row of pixel {name} (0 = top, {h - 1} = bottom).")
    q = right.number_input(f"Pixel {name} column", 0, w - 1, col, 1,
                           key=f"{PREFIX}{name}_col_{w}", bind="query-params",
                           help=f"Column of pixel {name} (0 = left, {w - 1} = right).")
    channel = 0
    if c > 1:
        channel = st.selectbox(f"Pixel {name} channel", list(range(c)),
                               key=f"{PREFIX}{name}_channel", bind="query-params",
                               format_func=("red", "green", "blue").__getitem__,
                               help=f"Colour channel of pixel {name}.")
    return int(channel), int(r), int(q)


def describe(pixel: tuple[int, int, int], channels: int) -> str:
    """``(row 3, col 4)``, with the colour channel for colour images."""
    channel, row, col = pixel
    return f"(row {row}, col {col}" + (f", {'RGB'[channel]})" if channels > 1 else ")")


def apply_click(height: int, width: int) -> None:
    """``on_select`` of the picker: move pixel A or B (the radio's choice) to the clicked
    pixel by setting its row and column inputs before they render; a pick that is not a pixel
    of the image leaves them and says why."""
    points = st.session_state[PICKER].selection.points
    if not points:
        return
    try:
        row, col = picked_pixel(points, height, width)
    except ValueError as error:
        st.session_state[CLICK_ERROR] = str(error)
        return
    st.session_state.pop(CLICK_ERROR, None)
    target = st.session_state.get(CLICK_TARGET, "A")
    st.session_state[f"{PREFIX}{target}_row_{height}"] = row
    st.session_state[f"{PREFIX}{target}_col_{width}"] = col


def pixel_picker(pixels: np.ndarray, std_map: np.ndarray, pixel_a: tuple[int, int, int],
                 pixel_b: tuple[int, int, int]) -> None:
    """The image (or its σ map) with A and B marked; a click on a pixel moves A or B."""
    _, height, width = pixels.shape
    shown = st.radio("Picture", list(PICKER_VIEWS), key=f"{PREFIX}picker", horizontal=True,
                     bind="query-params", format_func=PICKER_VIEWS.__getitem__,
                     label_visibility="collapsed")
    if shown == "image":
        picture = image_figure(pixels, "Image: click a pixel to pick it", 300)
        values, label = pixels.mean(axis=0), "intensity"
    else:
        picture, values, label = sigma_map_figure(std_map, 300), std_map.mean(axis=0), "σ"
    picker = mark_pixels(pixel_grid(picture, values, label),
                                        [(pixel_a[1], pixel_a[2], "A"),
                                         (pixel_b[1], pixel_b[2], "B")])
    chart(picker, key=PICKER, config={"displayModeBar": False},
                  on_select=partial(apply_click, height, width), selection_mode="points")
    error = st.session_state.pop(CLICK_ERROR, None)
    if error:
        st.warning(f"Click not used: {error}.")
