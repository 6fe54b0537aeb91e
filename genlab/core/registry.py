"""The closed list of model families: one line per family, each spec in genlab/families/<name>.py.

The UI lists FAMILIES; the CLI validates `family:` against it. Nothing here is imported from a name in a
user's YAML: adding a family means adding its line below.
"""

from __future__ import annotations

from genlab.core.config import ConfigError
from genlab.families import (
    bert,
    biggan,
    cgan,
    cyclegan,
    dcgan,
    diffusion,
    gpt,
    pix2pix,
    rnn,
    stargan,
    stylegan,
    t5,
    vae,
)
from genlab.families.spec import Capability, Family

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        vae.FAMILY,
        dcgan.FAMILY,
        cgan.FAMILY,
        cyclegan.FAMILY,
        pix2pix.FAMILY,
        stargan.FAMILY,
        gpt.FAMILY,
        rnn.FAMILY,
        diffusion.FAMILY,
        bert.FAMILY,
        t5.FAMILY,
        stylegan.FAMILY,
        biggan.FAMILY,
    )
}


def names_that_can(capability: Capability, joiner: str = " or ") -> str:
    """The registered families with `capability`, joined for a message or a help text ("gpt or rnn"): what
    the engine, CLI and UI say instead of naming families, so a new family appears there by itself."""
    return joiner.join(f.name for f in FAMILIES.values() if f.can(capability)) or "(none registered)"


def get_family(name: str) -> Family:
    """The family called `name`, or a ConfigError listing the valid names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(
            f"Invalid config:\n  family: unknown family {name!r}; choose one of: {', '.join(FAMILIES)}"
        ) from None
