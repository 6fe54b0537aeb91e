"""From a family's spec to what trains: its LightningModule class and its data module.

A family's module is the GenLabModule subclass that sets `family = FAMILY` in lightning_modules/<name>.py
(GenLabModule records it when the class is defined). The spec names no module, so the spec and the module
never point at each other: the module imports its spec, and this file finds the module by the family's
name. That name comes from the closed registry (genlab/core/registry.py), never from a user's YAML, and
this is the one place that imports a module by a computed name (tests/test_layers.py holds it to that).
"""

from __future__ import annotations

import importlib

import lightning as L

import lightning_modules
from genlab.core.config import RunConfig
from genlab.core.errors import GenLabError
from genlab.core.registry import get_family
from genlab.families.spec import Family
from lightning_modules.base import GenLabModule, family_module


def module_class(family: Family) -> type[GenLabModule]:
    """The family's module class: imports lightning_modules/<name>.py unless a module already declared it
    (a family written elsewhere, like the tests' toy family, is declared once its file is imported)."""
    found = family_module(family.name)
    if found is None:
        file = f"{lightning_modules.__name__}.{family.name}"
        try:
            importlib.import_module(file)
        except ModuleNotFoundError as err:
            if err.name != file:
                raise
        found = family_module(family.name)
    if found is None:
        raise GenLabError(
            f"family {family.name!r} has no module: lightning_modules/{family.name}.py must define a GenLabModule "
            "subclass that sets `family = FAMILY` (docs/ARCHITECTURE.md, Adding a family)"
        )
    return found


def build_datamodule(config: RunConfig) -> L.LightningDataModule:
    """The data module of the run's family (its module's `datamodule_class`), not yet set up."""
    return module_class(get_family(config.family)).datamodule_class(config)
