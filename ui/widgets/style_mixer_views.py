"""The Playground's views of a style-based generator (the StyleMixer capability, StyleGAN-lite today):
a truncation slider over a grid of seeded samples, a style-mixing grid (coarse styles from the row seeds,
fine styles from the column seeds, split at a chosen layer) and a walk in W. Engine API only
(genlab/use/styles.py); bad inputs come back as the engine's words."""

from __future__ import annotations

from typing import Any

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.use import styles
from ui.widgets.common import user_error
from ui.widgets.images import show_grid


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise GenLabError(f"seeds are whole numbers separated by spaces or commas; got {text!r}") from None


def truncation_view(module: Any) -> None:
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    psi = c1.slider(
        "Truncation ψ",
        0.0,
        1.0,
        1.0,
        0.05,
        key="play.style.psi",
        help="Pulls each image's w toward the average w: 1 keeps the full variety, lower trades variety for "
        "typical, cleaner images, 0 draws the average image.",
    )
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, step=1, key="play.style.seed")
    images = styles.truncated(module, 16, seed=int(seed), psi=psi)
    with st.container(key="play.style.truncated"):
        show_grid(images, columns=8, caption=f"16 samples at ψ = {psi:.2f}", target=720)


def mixing_view(module: Any) -> None:
    layers = styles.style_layers(module)
    c1, c2 = st.columns(2)
    coarse = _seeds(c1.text_input("Coarse styles from seeds (rows)", "1 2 3 4", key="play.style.coarse"))
    fine = _seeds(c2.text_input("Fine styles from seeds (columns)", "5 6 7 8", key="play.style.fine"))
    cut = st.slider(
        "Crossover layer",
        0,
        layers,
        layers // 2,
        key="play.style.cut",
        help=f"Layers before it (the low resolutions: shape, pose) take the row's style, the rest (colour, "
        f"detail) the column's; this model has {layers} style layers at its resolution.",
    )
    psi = st.slider("Truncation ψ", 0.0, 1.0, 1.0, 0.05, key="play.style.mix_psi")
    grid = styles.style_mix(module, coarse, fine, psi=psi, crossover=cut)
    show_grid(grid, columns=len(fine), caption="row: coarse seed · column: fine seed", target=720)


def walk_view(module: Any) -> None:
    c1, c2, c3 = st.columns(3)
    a = c1.number_input("From seed", 0, 2**31 - 1, 1, key="play.style.wa")
    b = c2.number_input("To seed", 0, 2**31 - 1, 2, key="play.style.wb")
    steps = c3.slider("Steps", 2, 16, 9, key="play.style.steps")
    psi = st.slider("Truncation ψ", 0.0, 1.0, 1.0, 0.05, key="play.style.walk_psi")
    strip = styles.w_walk(module, int(a), int(b), steps, psi=psi)
    show_grid(strip, columns=steps, caption="a straight line in W", target=720)


def render(module: Any) -> None:
    """Three tabs: truncation, style mixing, walk in W."""
    views = (("Truncation", truncation_view), ("Style mixing", mixing_view), ("Walk in W", walk_view))
    for tab, (_, view) in zip(st.tabs([name for name, _ in views], key="play.style.tabs"), views, strict=True):
        with tab:
            try:
                view(module)
            except GenLabError as err:
                user_error(err, "Cannot draw this")
