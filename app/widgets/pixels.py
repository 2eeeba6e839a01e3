"""The Region page's pixel picker: row/column (and channel) inputs bound to the URL for
pixels A and B, and the image (or its σ map) under a transparent marker layer, whose click
moves A or B (the chart's ``on_select`` writes the clicked pixel into the inputs before they
render)."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from app.figures.maps import sigma_map_figure
from app.figures.region import image_figure, mark_pixels, picked_pixel, pixel_grid
from app.widgets.output import chart

PREFIX = "rg_"
PICKER, CLICK_TARGET, CLICK_ERROR = "region_pixels", f"{PREFIX}click", "region_click_error"
PICKER_VIEWS = {"image": "image", "sigma": "σ map"}


def pixel_inputs(name: str, shape: tuple[int, int, int], row: int,
                 col: int) -> tuple[int, int, int]:
    """Channel (colour images only), row and column of pixel ``name``, default (row, col)."""
    c, h, w = shape
    for key, top in ((f"{PREFIX}{name}_row_{h}", h - 1), (f"{PREFIX}{name}_col_{w}", w - 1)):
        raw = st.query_params.get(key)
        if raw is not None and not (raw.isdigit() and int(raw) <= top):
            st.warning(f"The link's {key}={raw} is not a pixel of this {h}×{w} image "
                       f"(0–{top}): pixel {name} uses its default.")
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
                               key=f"{PREFIX}{name}_channel",
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
