"""The Playground's view of models that sample by denoising (the DenoisingSampler capability): the sampler,
its steps, the guidance scale (conditional runs), the class and the seed; new samples, the denoising strip
(one image from noise to sample) and a slerp between two seeds' starting noise.

Everything goes through the engine's image API (genlab/use/sample.py), so a bad value (0 or 10,000 steps,
a negative guidance scale, guidance on an unconditional run) is refused with the same words `genlab sample`
prints. The inputs are deliberately not clamped by the widgets: the engine says what is allowed and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from genlab.core.errors import GenLabError
from ui.widgets.common import user_error
from ui.widgets.images import show_grid


def _knobs(module: Any) -> tuple[dict[str, Any], int | None]:
    """The sampling options the user chose, and the class (None: one of each / unconditional)."""
    from genlab.use import sample as engine

    settings = engine.sampling_settings(module)
    classes = engine.class_names(module)
    c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 2, 1], vertical_alignment="bottom")
    choices = list(settings["sampler"]["choices"])
    sampler = c1.selectbox(
        "Sampler",
        choices,
        index=choices.index(settings["sampler"]["default"]),
        key="play.diff.sampler",
        help="The solver that walks from noise to an image; only those that solve the run's objective are offered.",
    )
    steps_range = settings["steps"]
    steps = c2.number_input(
        "Steps",
        value=int(steps_range["default"]),
        step=1,
        key="play.diff.steps",
        help=f"Sampling steps, {steps_range['min']} to {steps_range['max']}: fewer is faster and rougher.",
    )
    guided = settings.get("guidance_scale")
    guidance = c3.number_input(
        "Guidance scale",
        value=float(guided["default"]) if guided else None,
        step=0.5,
        key="play.diff.guidance",
        placeholder="conditional runs only",
        help="Classifier-free guidance: 1 is the plain conditional model, higher draws more typical images of "
        "the class, 0 ignores the class. Only class-conditional runs take it.",
    )
    label = None
    if classes:
        choice = c4.selectbox(
            "Class", ["(one of each)", *classes], key="play.diff.class", help="The class to draw (conditional run)."
        )
        label = None if choice == "(one of each)" else classes.index(choice)
    st.session_state.setdefault("play.diff.seed", 0)
    seed = c5.number_input("Seed", 0, 2**31 - 1, step=1, key="play.diff.seed")
    options = {"sampler": sampler, "steps": int(steps), "guidance_scale": guidance, "seed": int(seed)}
    return options, label


def render(module: Any, training_samples: Callable[[], None]) -> None:
    """The whole view: knobs on top, then samples, the denoising strip, between two seeds, training samples."""
    from genlab.use import sample as engine

    options, label = _knobs(module)
    seed = options.pop("seed")
    try:
        sampler, steps, guidance = engine.check_sampling(module, options)
    except GenLabError as err:
        user_error(err, "Cannot sample with these settings")
        return
    said = f"{sampler}, {steps} steps" + (f", guidance {guidance:g}" if options["guidance_scale"] is not None else "")
    tabs = st.tabs(["Samples", "Denoising strip", "Between two seeds", "Training samples"], key="play.diff.tabs")
    try:
        with tabs[0], st.container(key="play-diff-samples"):
            n = st.slider("How many", 1, 64, 16, key="play.diff.n")
            images = engine.sample(module, n, seed=seed, labels=label, options=options)
            show_grid(images, columns=min(8, n), caption=f"seed {seed} · {said}")
        with tabs[1], st.container(key="play-diff-strip"):
            frames = st.slider("Frames", 2, 16, 8, key="play.diff.frames", help="Images shown along the way")
            at, strip = engine.denoising_strip(module, seed=seed, label=label, options=options, frames=frames)
            show_grid(strip, columns=len(at), caption="after step " + " · ".join(map(str, at)) + f" ({said})")
        with tabs[2], st.container(key="play-diff-slerp"):
            c1, c2, c3 = st.columns(3)
            a = c1.number_input("Start seed", 0, 2**31 - 1, value=1, key="play.diff.seed_a")
            b = c2.number_input("End seed", 0, 2**31 - 1, value=2, key="play.diff.seed_b")
            k = c3.slider("Images", 3, 16, 9, key="play.diff.k")
            one_class = label if label is not None or not engine.class_names(module) else 0  # a path within a class
            path = engine.interpolate(module, int(a), int(b), np.linspace(0, 1, k), labels=one_class, options=options)
            show_grid(path, columns=k, caption=f"spherical path between the two seeds' starting noise ({said})")
    except GenLabError as err:
        user_error(err, "Generation failed")
    with tabs[3]:
        training_samples()
