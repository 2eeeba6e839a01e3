"""The image pickers: a bundled image or an upload, as a page works with it
(:func:`image_picker`) or at a model's input shape (:func:`model_image_picker`)."""

from __future__ import annotations

import streamlit as st

from app.cached.images import (
    MAX_SIDE,
    InputImage,
    ModelInput,
    bundled_catalog,
    bundled_image,
    bundled_model_input,
    dataset_title,
    default_image,
    uploaded_image,
    uploaded_model_input,
)
from app.choices import MODEL_FAMILIES, PHOTOS
from app.figures.images import image_png
from app.widgets.output import escape_markdown
from ucan_core.errors import UcanError


def image_picker(prefix: str = "") -> InputImage:
    """A bundled image (dataset, then image) or a PNG/JPEG upload; returns the image to use.

    A refused or missing upload falls back to the previous upload, else to the last bundled
    image, with a message saying so.
    """
    ss = st.session_state
    source = st.radio("Image source", ["Bundled", "Upload"], key=f"{prefix}source",
                      bind="query-params", horizontal=True,
                      help="A bundled test image (MNIST, CIFAR-10, photo) or your own PNG/JPEG.")
    catalog = bundled_catalog()
    datasets = [d for d in ("mnist", "cifar10", "photo") if d in catalog]
    datasets += [d for d in catalog if d not in datasets]
    if source == "Bundled":
        dataset = st.selectbox("Dataset", datasets, key=f"{prefix}dataset", bind="query-params",
                               format_func=lambda d: dataset_title(d),
                               help="The bundled images come from the MNIST and CIFAR-10 test "
                                    "sets, plus a few photos.")
        entries = dict(catalog[dataset])
        image_id = st.selectbox("Image", list(entries), key=f"{prefix}image_{dataset}",
                                bind="query-params", format_func=entries.__getitem__,
                                help="Test-set index and label of the bundled image.")
        ss[f"{prefix}last_bundled"] = image_id
        return bundled_image(image_id)
    upload = st.file_uploader("Upload an image", type=["png", "jpg", "jpeg"],
                              key=f"{prefix}upload",
                              help="PNG or JPEG, at most 10 MB and 16.7 Mpixel. It is checked "
                                   "before decoding; photos are reduced to a longer side of "
                                   f"{MAX_SIDE} px.")
    image = ss.get(f"{prefix}last_upload")
    if upload is not None:
        try:
            image = uploaded_image(upload.getvalue(), upload.name)
            ss[f"{prefix}last_upload"] = image
        except UcanError as error:
            st.error(f"Upload refused: {escape_markdown(error)}. Showing the previous image instead.")
    elif image is None:
        st.info("No upload yet: showing the last bundled image.")
    if image is None:
        image = bundled_image(ss.get(f"{prefix}last_bundled")
                                       or catalog[datasets[0]][0][0])
    return image


def picked_bundled_id(prefix: str = "") -> str | None:
    """The id of the bundled image that :func:`image_picker` (``prefix``) shows; None for an
    upload."""
    ss = st.session_state
    return ss.get(f"{prefix}last_bundled") if ss.get(f"{prefix}source") == "Bundled" else None


def model_image_picker(shape: tuple[int, int, int], dataset: str, any_dataset: bool,
                       prefix: str = "cert_") -> ModelInput:
    """The Certify page's image: a bundled image (of ``dataset``, or of any dataset) or an
    upload (optionally inverted), at the model's input ``shape``, shown as the model sees it."""
    st.subheader("Image")
    source = st.radio("Image source", ["Bundled", "Upload"], key=f"{prefix}source",
                      bind="query-params", horizontal=True,
                      help="A bundled test image of the model's dataset, or your own PNG/JPEG.")
    catalog = bundled_catalog()
    if any_dataset:
        datasets = list(catalog)
        dataset = st.selectbox("Dataset", datasets, key=f"{prefix}dataset", bind="query-params",
                               index=datasets.index(dataset) if dataset in datasets else 0,
                               format_func=lambda d: dataset_title(d),
                               help="The dataset of the bundled image. Dual RS and routing "
                                    "certify only images of their selector's dataset.")
    entries = dict(catalog.get(dataset) or [e for group in catalog.values() for e in group])
    opening = default_image(dataset, list(entries))
    first_id = list(entries)[opening]
    image = None
    if source == "Bundled":
        image_id = st.selectbox("Image", list(entries), index=opening,
                                key=f"{prefix}image_{dataset}", bind="query-params",
                                format_func=entries.__getitem__,
                                help="Test-set index and label of the bundled image.")
        image = bundled_model_input(image_id, shape)
    else:
        upload = st.file_uploader("Upload an image", type=["png", "jpg", "jpeg"],
                                  key=f"{prefix}upload",
                                  help="PNG or JPEG, at most 10 MB and 16.7 Mpixel, checked "
                                       "before decoding, then converted to the model's input "
                                       f"shape {shape[0]}×{shape[1]}×{shape[2]}.")
        invert = dataset != PHOTOS and st.checkbox(
            "Invert (dark ↔ light)", key=f"{prefix}invert",
            help="MNIST digits are light on a dark background; invert a dark-on-light "
                 "drawing to match.")
        if upload is not None:
            try:
                image = uploaded_model_input(upload.getvalue(), upload.name, shape)
            except UcanError as error:
                st.error(f"Upload refused: {escape_markdown(error)}")
        if image is None:
            image = bundled_model_input(first_id, shape)
            st.info(f"No usable upload: using the bundled image {image.name}.")
        elif invert:
            image = image.inverted()
        if upload is not None and image.key.startswith("upload:"):
            st.info(out_of_distribution_note(dataset))
    c, h, w = image.shape
    converted = (f"converted from {image.original_size[0]}×{image.original_size[1]} "
                 f"{'greyscale' if image.original_mode == 'L' else 'colour'}"
                 if (image.original_size != (w, h) or (c == 1) != (image.original_mode == "L"))
                 else "no conversion needed")
    where = (f" Radii are in [0, 1] pixel units of this {h}×{w} image."
             if converted != "no conversion needed" else "")
    st.image(image_png(image.pixels, min_tile=168),
             caption=f"As the model sees it: {c}×{h}×{w} ({converted}).{where} "
                     f"{escape_markdown(image.name)}",
             width=200)
    return image


def out_of_distribution_note(dataset: str) -> str:
    """What a certificate of an upload means for a model of ``dataset``: photos of the 1,000
    ImageNet classes for the photo models; for the others, an image unlike their training
    data (out of distribution), with the photo models named."""
    if dataset == PHOTOS:
        return ("Your own photo: the model answers with one of the 1,000 ImageNet classes "
                "whatever it shows. A certificate says the smoothed answer cannot change "
                "nearby, not that it is right.")
    title = dataset_title(dataset)
    return (f"Your own image, not a {title} test image: the model only knows {title} images. "
            "A certificate says the smoothed answer cannot change nearby, not that it is "
            "right for an image unlike its training data (out of distribution). For a "
            f"photo, choose Standard RS with Images: **{MODEL_FAMILIES[PHOTOS]}** "
            "(a classifier of 1,000 ImageNet classes behind a denoiser).")
