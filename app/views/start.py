"""Start: what randomized smoothing promises, in one picture computed by the engine (a bundled
MNIST digit, its noisy copies, the votes of a bundled model and the certified ball;
``app.cached.certify.demo_certificate``), guided scenarios that open the other pages
already set up (through their URL parameters), and a link to certify a photo with the photo
model at its card's sampling."""

from __future__ import annotations

import streamlit as st

from app import state
from app.cached.certify import DEMO_ALPHA, DEMO_IMAGE, DEMO_MODEL, demo_certificate, p_a_summary
from app.cached.images import DEFAULT_IMAGES
from app.cached.models import FAMILY_DEFAULTS, sampling_defaults
from app.choices import MODES, PHOTOS
from app.figures.common import norm_symbol
from app.figures.images import grid_png, image_png
from app.figures.scale import ball_figure, scale_words
from app.figures.votes import votes_figure
from app.widgets.output import chart
from ucan_core.noises.region import unit_sphere_2d
from ucan_core.norms import parse_norm
from ucan_core.zoo.bundled import model_card

#: The sampling a photo model starts at (its card's: a first certificate in about a minute).
PHOTO_SAMPLING = sampling_defaults(model_card(FAMILY_DEFAULTS[PHOTOS]))
#: (title, what it shows, page, its URL parameters).
SCENARIOS = [
    ("Certify a digit and attack it",
     "Certify this 7, open its region, attack it.",
     "views/certify.py", state.certify_params(DEMO_MODEL, DEMO_IMAGE)),
    ("Why anisotropic noise",
     "A σ map instead of one σ, on Noise Lab.",
     "views/noise_lab.py", state.noise_params("", "gaussian", 0.5, "2", "pattern-2")),
    ("Dual RS: a noise level per input",
     "A certified σ-estimator picks σ for this image.",
     "views/certify.py", {"cert_mode": MODES["dual"], "cert_n": "2000"}),
    ("Teach: from votes to a radius",
     "More samples, a tighter bound, a larger radius.",
     "views/learn.py", {state.TEACHING_KEY: "true"}),
]

demo = demo_certificate()
cert = demo.certificate
summary = p_a_summary(cert)
name = demo.classes[cert.prediction]
norm = cert.norm

st.title("Randomized smoothing in one picture")
st.markdown(
    "A classifier votes over many **noisy copies** of an image. Because the noise is random "
    "and known, the vote comes with a guarantee: **no change of the image smaller than a "
    "radius R can change the answer** (with probability ≥ 1 − α over the sampling).")

cols = st.columns([0.75, 1.1, 1.3, 1.1], gap="small")
with cols[0]:
    st.image(image_png(demo.pixels, min_tile=140), width="stretch")
    st.caption(f"**1 · The image** x ({DEMO_IMAGE})")
with cols[1]:
    st.image(grid_png(demo.copies, ncols=4, min_tile=56, pad=2), width="stretch")
    st.caption(f"**2 · Noisy copies** x + ε, Gaussian σ = {demo.sigma:g}: "
               f"{len(demo.copies)} of {cert.n0 + cert.n:,}")
with cols[2]:
    chart(votes_figure(demo.classes, cert.counts, cert.selection_counts, summary.selected,
                       cert.n, cert.n0, height=210, compact=True), key="start_votes",
          config={"displayModeBar": False})
    st.caption(f"**3 · The votes** of `{DEMO_MODEL}`: {name} gets {summary.k:,} of {cert.n:,}, "
               f"so p̲_A = {cert.p_a_lower:.4f}")
with cols[3]:
    chart(ball_figure(cert.radius, norm, unit_sphere_2d(parse_norm(norm)), height=210),
          key="start_ball", config={"displayModeBar": False})
    st.caption(f"**4 · Certified**: every image within {norm_symbol(norm)} distance "
               f"R = {cert.radius:.3f} of x is classified {name} (dotted: ℓ2 budgets 0.5, "
               "1, 2)")
st.markdown(f"**At a human scale** ({cert.kind} radius, α = {DEMO_ALPHA:g}, pixel units): "
            + " ".join(scale_words(cert.radius, norm, int(demo.pixels.size))))

st.markdown("#### Guided scenarios")
for index, (column, (title, text, page, params)) in enumerate(
        zip(st.columns(4, gap="small"), SCENARIOS)):
    with column.container(border=True, key=f"scenario_{index}"):
        st.markdown(f"**{title}**  \n{text}")
        st.page_link(page, label="Open", icon=":material/arrow_forward:", query_params=params)
st.page_link("views/certify.py", icon=":material/photo_camera:",
             label="Bring a photo: certify it with the photo model (1,000 ImageNet classes, "
                   "about a minute on a CPU)",
             query_params=state.certify_params(FAMILY_DEFAULTS[PHOTOS], DEFAULT_IMAGES[PHOTOS],
                                               n0=PHOTO_SAMPLING["n0"], n=PHOTO_SAMPLING["n"]))
st.caption("Every number on this page comes from the `ucan_core` engine; the symbols are "
           "explained in the Glossary.")
