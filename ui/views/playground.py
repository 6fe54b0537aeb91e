"""Playground: use a trained run — new images, a chosen class, latent walks, reconstructions, translation, text."""

from __future__ import annotations

import io
import random

import numpy as np
import streamlit as st
from PIL import Image

from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES
from genlab.store.runs import RunNotFound
from ui.widgets import model_cache as mc
from ui.widgets.common import get_store, page_path, tail_text, user_error
from ui.widgets.images import show_grid, show_image_file, to_uint8_images
from ui.widgets.run_picker import pick_run

store = get_store()
st.title("Playground")

USABLE = ("completed", "cancelled", "interrupted", "failed", "running", "pruned")
PRETRAINED = ["smollm2"]  # offline pretrained models: chat with them without training a run
TRAINED, READY = "A trained run", "A pretrained model (no training)"

has_runs = bool(store.list_runs(status=USABLE, limit=1))
source = st.segmented_control(
    "Use",
    [TRAINED, READY],
    default=TRAINED if has_runs or st.query_params.get("run") else READY,
    key="play.source",
    required=True,
)
if source == READY:
    from ui.widgets.text_playground import render_pretrained

    if not has_runs:
        st.info(
            "No trained runs yet, so this opens on the pretrained chat model below. Train one (the fastest preset "
            f"on Home takes a minute or two) and it appears under '{TRAINED}'.",
            icon=":material/info:",
        )
        st.page_link(page_path("home"), label="Go to the presets", icon=":material/home:")
    name = st.selectbox(
        "Model", PRETRAINED, key="play.model", help="SmolLM2-135M-Instruct ships with GenLab: no download."
    )
    render_pretrained(store, name)
    st.stop()
run = pick_run(
    store,
    "Trained run",
    key="play.run",
    status=USABLE,
    first=("completed",),
    default=st.query_params.get("run"),
    help="Completed runs first (newest first); a run still training uses its latest checkpoint.",
)
if run is None:
    st.info(
        "No trained runs yet. Chat with the pretrained model above, or train one (the fastest preset on Home "
        "takes a minute or two) and come back here.",
        icon=":material/info:",
    )
    st.page_link(page_path("home"), label="Go to the presets", icon=":material/home:")
    st.stop()
st.query_params["run"] = run.id
family = FAMILIES.get(run.family)
st.caption(
    f"{family.title if family else run.family} · data {run.data_name} · status {run.status} · "
    f"[open the run page](./run?id={run.id})"
)


def show_store_samples(kinds: tuple[str, ...] = ("samples", "text")) -> None:
    """What the run saved while training (always available, even without a generation API)."""
    arts = [a for k in kinds for a in store.artifacts(run.id, kind=k)]
    if not arts:
        st.caption("This run saved no samples.")
        return
    latest: dict[str, dict] = {}
    for a in arts:
        latest[a["name"]] = a
    cols = st.columns(min(3, len(latest)))
    for i, (name, a) in enumerate(sorted(latest.items())):
        with cols[i % len(cols)]:
            st.markdown(f"**{name}** · step {a['step']}")
            if a["kind"] == "samples":
                show_image_file(a["path"])
            else:
                st.text(tail_text(a["path"], max_lines=60))


def load() -> object | None:
    try:
        with st.spinner("Loading the model (once per checkpoint)…"):
            module, ckpt = mc.load_model(store, run.id)
    except (GenLabError, RunNotFound, OSError) as err:
        user_error(err, "The model cannot be loaded")
        return None
    st.caption(f"Checkpoint: `{ckpt.name}`")
    return module


def image_playground() -> None:
    module = load()
    if module is None:
        return
    tabs = []
    if mc.can_sample(module):
        tabs.append("New samples")
    if "StyleMixer" in mc.capabilities(module):
        tabs.append("Styles")
    if mc.can_walk_latent(module):
        tabs.append("Latent walk")
    if mc.can_reconstruct(module):
        tabs.append("Reconstruct an image")
    tabs.append("Training samples")
    classes = mc.class_names(module)
    label = None
    if classes:
        choice = st.selectbox(
            "Class", ["(mixed)", *classes], key="play.class", help="This model is conditional: pick the class to draw."
        )
        label = None if choice == "(mixed)" else classes.index(choice)
    for tab, name in zip(st.tabs(tabs, key="play.tabs"), tabs, strict=True):
        with tab:
            try:
                if name == "New samples":
                    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
                    n = c1.slider("How many", 1, 64, 16, key="play.n")
                    if c3.button("New seed", icon=":material/casino:", key="play.reseed"):
                        st.session_state["play.seed"] = random.randrange(0, 2**31 - 1)
                    st.session_state.setdefault("play.seed", 0)
                    seed = c2.number_input("Seed", 0, 2**31 - 1, step=1, key="play.seed")
                    from ui.widgets.truncation_views import truncation_slider

                    truncation = truncation_slider(module) if mc.can_truncate(module) else None
                    images = mc.sample(module, n, int(seed), label, truncation)
                    show_grid(images, columns=min(8, n))
                    buf = io.BytesIO()
                    from ui.widgets.images import tile

                    tile(images, columns=min(8, n), scale=4).save(buf, format="PNG")
                    st.download_button(
                        "Download PNG",
                        buf.getvalue(),
                        file_name=f"{run.id}-seed{seed}.png",
                        mime="image/png",
                        on_click="ignore",
                        key="play.dl",
                        icon=":material/download:",
                    )
                elif name == "Styles":
                    from ui.widgets import style_mixer_views

                    style_mixer_views.render(module)
                elif name == "Latent walk":
                    c1, c2 = st.columns(2)
                    a = c1.number_input("Start seed", 0, 2**31 - 1, value=1, key="play.seed_a")
                    b = c2.number_input("End seed", 0, 2**31 - 1, value=2, key="play.seed_b")
                    t = st.slider(
                        "Position between the two",
                        0.0,
                        1.0,
                        0.5,
                        0.05,
                        key="play.t",
                        help="Slide to morph one generated image into the other.",
                    )
                    strip = mc.latent_walk(module, int(a), int(b), np.linspace(0, 1, 9), label)
                    single = mc.latent_walk(module, int(a), int(b), np.array([t]), label)
                    c1, c2 = st.columns([1, 3])
                    with c1:
                        show_grid(single, caption=f"t = {t:.2f}", target=240)
                    with c2:
                        show_grid(strip, columns=9, caption="the whole path, 9 steps", target=720)
                elif name == "Reconstruct an image":
                    channels, size = mc.model_image_shape(module)
                    up = st.file_uploader("An image", type=["png", "jpg", "jpeg", "bmp", "webp"], key="play.recon")
                    if up is None:
                        st.caption(
                            f"Upload an image; it is resized to {size}×{size} "
                            f"{'grey' if channels == 1 else 'colour'} like the training data."
                        )
                    else:
                        try:
                            with Image.open(io.BytesIO(up.getvalue())) as im:
                                im = im.convert("L" if channels == 1 else "RGB").resize((size, size))
                                arr = np.asarray(im, dtype=np.float32) / 255.0
                        except (OSError, ValueError, Image.DecompressionBombError):
                            st.error(f"{up.name} is not a readable image; upload a PNG or JPEG.")
                        else:
                            x = arr[None, None] if channels == 1 else arr.transpose(2, 0, 1)[None]
                            recon = mc.reconstruct(module, x)
                            both = np.concatenate([to_uint8_images(x), to_uint8_images(recon)])
                            show_grid(
                                both,
                                columns=2,
                                caption="left: your image · right: the model's reconstruction",
                                target=480,
                            )
                else:
                    show_store_samples(("samples",))
            except (GenLabError, ValueError, RuntimeError) as err:
                user_error(err, "Generation failed")


def translation_playground() -> None:
    from genlab.use import translate  # engine API (issue 4)

    module = load()
    if module is None:
        return
    directions = translate.available_directions(module)
    up = st.file_uploader("An image to translate", type=["png", "jpg", "jpeg", "bmp", "webp"], key="play.translate")
    direction = (
        st.radio(
            "Direction", directions, horizontal=True, key="play.direction", format_func=lambda d: d.replace("to", " → ")
        )
        if len(directions) > 1
        else (directions[0] if directions else None)
    )
    if up is not None:
        try:
            out = translate.translate_image(module, up.getvalue(), direction)
        except GenLabError as err:
            user_error(err, f"{up.name} cannot be translated")
        else:
            c1, c2 = st.columns(2)
            c1.image(up.getvalue(), caption="input", width="stretch")
            c2.image(out, caption=f"translated ({direction})", width="stretch")
    else:
        st.caption("Upload an image of domain A (or B, with the other direction); it keeps its size.")
    with st.expander("Samples saved during training"):
        show_store_samples(("samples",))


def multi_domain_playground() -> None:
    from ui.widgets.multi_domain_views import render

    module = load()
    if module is not None:
        render(module)
    with st.expander("Samples saved during training"):
        show_store_samples(("samples",))


def text_playground() -> None:
    from ui.widgets.text_playground import render

    render(store, run)


def transformer_playground(can: tuple[str, ...]) -> None:
    """Fill-mask, classification and attention views of transformer runs (the capabilities they have)."""
    from ui.widgets import transformer_views as tv

    module = load()
    if module is None:
        return
    views = []
    if "MaskFiller" in can and module.mask_token:
        views.append(("Fill the mask", tv.fill_mask_view))
    if "TextClassifier" in can and module.label_names():
        views.append(("Classify", lambda *_: tv.classify_view(module)))
    if "AttentionViewer" in can:
        views.append(("Attention", lambda *_: tv.attention_view(module)))
    for tab, (_, view) in zip(st.tabs([name for name, _ in views]), views, strict=True):
        with tab:
            view(store, run, module)


def denoising_playground() -> None:
    from ui.widgets import denoising_views

    module = load()
    if module is not None:
        denoising_views.render(module, lambda: show_store_samples(("samples",)))


# What the page offers follows the family's capabilities, never its name.
can = family.capabilities if family else ()
if "MultiDomainTranslator" in can:
    multi_domain_playground()
elif "Translator" in can:
    translation_playground()
elif "TextGenerator" in can:
    text_playground()
    if "AttentionViewer" in can:
        st.subheader("Attention")
        transformer_playground(("AttentionViewer",))
elif "MaskFiller" in can or "TextClassifier" in can or "AttentionViewer" in can:
    transformer_playground(can)
elif "DenoisingSampler" in can:
    denoising_playground()
elif "ImageSampler" in can or "Reconstructor" in can:
    image_playground()
else:
    st.info(f"{run.family} runs have no interactive use; here is what the run saved.", icon=":material/info:")
    show_store_samples()
