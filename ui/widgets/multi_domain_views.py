"""Playground view of a multi-domain translator (the MultiDomainTranslator capability): one image, picked
from the run's own validation images or uploaded, translated into every domain of the run, in one row."""

from __future__ import annotations

from typing import Any

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.use import translate
from ui.widgets.common import user_error

FROM_SET, UPLOAD = "From the data set", "Upload an image"


def _set_images(module: Any) -> list[Any]:
    """The run's fixed validation images (saved with its weights), as PIL images with their domain."""
    fixed, labels = module.fixed_x.detach().cpu(), module.fixed_y.detach().cpu()
    domains = translate.domains_of(module)
    keep = fixed.flatten(1).abs().sum(1) > 0  # unfilled slots of a run that never validated are blank
    return [
        (translate.to_pil(fixed[i : i + 1]), domains[int(labels[i]) % len(domains)])
        for i in range(len(fixed))
        if bool(keep[i])
    ]


def render(module: Any) -> None:
    domains = translate.domains_of(module)
    st.caption(f"This run translates into {len(domains)} domains: {', '.join(domains)}.")
    source = st.segmented_control("Image", [FROM_SET, UPLOAD], default=FROM_SET, key="play.md.source", required=True)
    image: Any = None
    name = "the image"
    if source == FROM_SET:
        pictures = _set_images(module)
        if not pictures:
            st.info("This run holds no validation images yet; upload one instead.", icon=":material/info:")
            return
        pick = st.slider("Validation image", 1, len(pictures), 1, key="play.md.pick")
        image, domain = pictures[pick - 1]
        name = f"validation image {pick} ({domain})"
    else:
        up = st.file_uploader("An image to translate", type=["png", "jpg", "jpeg", "bmp", "webp"], key="play.md.upload")
        if up is None:
            st.caption("Upload an image of any of the domains; every translation keeps its size.")
            return
        image, name = up.getvalue(), up.name
    try:
        row = translate.translate_into_every_domain(module, image)
    except GenLabError as err:
        user_error(err, f"{name} cannot be translated")
        return
    columns = st.columns(1 + len(row))
    columns[0].image(image, caption=f"input: {name}", width="stretch")
    for column, (domain, out) in zip(columns[1:], row, strict=True):
        column.image(out, caption=f"→ {domain}", width="stretch")
