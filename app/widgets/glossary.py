"""Every symbol the app uses, in plain words: the Glossary page's table and the teaching
mode's labels (plain words, with the symbol in the tooltip)."""

from __future__ import annotations

from dataclasses import dataclass

from app import state


@dataclass(frozen=True)
class Term:
    """A symbol, its plain-words name and a one-line explanation."""

    symbol: str
    words: str
    meaning: str


GLOSSARY = (
    Term("x", "the image", "The input being certified, pixels in [0, 1] (pixel units)."),
    Term("ε", "the noise", "A random perturbation added to x; the classifier votes over many "
                           "noisy copies x + ε."),
    Term("σ", "noise level", "Per-pixel standard deviation of the noise, in pixel units."),
    Term("λ", "noise scale", "The density's own scale parameter, derived from σ (for "
                             "Gaussian noise λ = σ)."),
    Term("μ", "noise mean", "Where the noise is centred per pixel (0 for plain smoothing)."),
    Term("s, sᵢ", "per-pixel noise scale", "UCAN's map: pixel i gets noise level sᵢ·σ; "
                                           "geometric mean 1."),
    Term("NPG", "noise generator", "What produces the σ (and μ) map: isotropic, a fixed "
                                   "pattern, or a learned network (UCAN)."),
    Term("κ", "pattern strength", "How much a pattern NPG's noise grows towards the corners."),
    Term("ι", "pattern offset", "The base level of a pattern NPG's map; larger is flatter."),
    Term("ĉ_A", "the top class", "The class most noisy copies vote for (picked from n0 votes)."),
    Term("n0", "selection samples", "Noisy copies used to pick the top class ĉ_A."),
    Term("n", "estimation samples", "Fresh noisy copies used to bound how often ĉ_A wins."),
    Term("p_A", "top-class probability", "The probability that a noisy copy is classified ĉ_A."),
    Term("p̂_A", "observed share", "The share of the n votes that went to ĉ_A."),
    Term("p̲_A", "guaranteed share", "A lower bound on p_A that holds with probability "
                                    "≥ 1 − α; the radius is computed from it."),
    Term("α", "failure probability", "The chance that the certificate is wrong because the "
                                     "sampling was unlucky (e.g. 0.001)."),
    Term("Clopper–Pearson", "exact binomial bound", "The confidence bound on p_A from k wins "
                                                    "out of n; exact, never too optimistic."),
    Term("R", "certified radius", "No perturbation δ with ‖δ‖ ≤ R changes the smoothed "
                                  "classifier's answer, in pixel units."),
    Term("ℓp (ℓ1, ℓ2, ℓ∞)", "way of measuring a change", "ℓ∞: the largest change of one pixel; "
                                                          "ℓ2: the Euclidean length; ℓ1: the "
                                                          "sum of all changes."),
    Term("δ", "a perturbation", "A change of the image: the attacked image is x + δ."),
    Term("d", "number of pixels", "Coordinates of the input (28×28 = 784 for MNIST)."),
    Term("min sᵢ·R", "ball inside the region", "The radius of the largest ℓp ball inside an "
                                               "anisotropic certified region."),
    Term("ALM", "region size", "Radius of the isotropic region of the same volume as the "
                               "anisotropic one: a size, not a guarantee."),
    Term("Φ⁻¹", "normal quantile", "The inverse of the standard normal distribution function."),
    Term("R_σ, R_sel, R_c", "two-stage radii", "Dual RS and routing: the radius of the "
                                               "selection stage and of the classification."),
    Term("σ_e, σ_s", "the chooser's noise level", "Dual RS and routing: the Gaussian noise "
                                                  "level of the selection stage (the "
                                                  "σ-estimator or selector), itself smoothed."),
    Term("CERTIFY, PREDICT", "Cohen's two procedures", "CERTIFY turns votes into a radius; "
                                                       "PREDICT answers a class, or abstains "
                                                       "when the vote is too close."),
    Term("x′", "the attacked image", "x + δ: the image after the attack's change δ."),
    Term("‖δ‖", "size of the change", "The length of δ in the certificate's ℓp norm, in pixel "
                                      "units."),
    Term("PGD", "the attack", "Projected gradient descent: small steps that push the votes "
                              "away from the certified class, kept inside the ball."),
    Term("p̄_c, p̄_sel", "verified share (upper bound)", "After an attack: an upper bound on "
                                                       "the share of votes the certified class "
                                                       "(or the chooser's choice) still gets."),
    Term("α_audit, n_verify", "the audit's check", "Fresh votes (n_verify) drawn at the "
                                                   "attacked image, bounded at level α_audit."),
    Term("B⁻¹", "beta quantile", "The inverse of the beta distribution, which gives the exact "
                                 "Clopper–Pearson bound."),
    Term("DKW", "a uniform confidence band", "The Dvoretzky–Kiefer–Wolfowitz bound: how far a "
                                             "sampled distribution can be from the true one."),
    Term("exact / sound / approximate", "kinds of radius", "exact: tight; sound: valid, maybe "
                                                           "loose; approximate: an estimate."),
)
TERMS = {term.symbol: term for term in GLOSSARY}


def label(symbol: str, text: str) -> str:
    """A control's label: ``text`` as is, or in teaching mode the symbol's plain words."""
    return TERMS[symbol].words.capitalize() if state.teaching_mode() else text


def tooltip(symbol: str, text: str) -> str:
    """A control's help: ``text``, prefixed in teaching mode by the symbol and its meaning."""
    term = TERMS[symbol]
    return (f"{term.symbol}: {term.meaning} {text}" if state.teaching_mode() else text)
