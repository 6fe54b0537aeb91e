"""One list of capability names (genlab/families/spec.py's Capability) and one Protocol per name in
lightning_modules/base.py; every registered family's module is the class that declares its spec."""

from __future__ import annotations

import inspect
import typing

import pytest

import lightning_modules.base as base
from genlab.core.registry import FAMILIES
from genlab.families.spec import CAPABILITIES
from genlab.runner.build import module_class


def test_every_capability_name_has_its_protocol_and_every_protocol_its_name() -> None:
    protocols = {
        name
        for name, obj in vars(base).items()
        if inspect.isclass(obj) and getattr(obj, "_is_protocol", False) and obj.__module__ == base.__name__
    }
    assert protocols == set(CAPABILITIES), "add the name to spec.py's Capability or the Protocol to base.py"
    assert all(base.PROTOCOLS[name].__name__ == name for name in CAPABILITIES)
    assert all(getattr(base.PROTOCOLS[name], "_is_runtime_protocol", False) for name in CAPABILITIES)


def test_a_capability_name_without_a_protocol_fails_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "CAPABILITIES", (*CAPABILITIES, "Teleporter"))
    with pytest.raises(ImportError, match="Teleporter"):
        base._protocols()


@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_family_module_declares_its_spec_and_data_module(name: str) -> None:
    family = FAMILIES[name]
    cls = module_class(family)
    assert cls.__module__ == f"lightning_modules.{name}" and "family" in vars(cls)
    assert cls.family is family
    assert inspect.isclass(cls.datamodule_class)
    for capability in family.capabilities:  # the class offers every member of each protocol it claims
        members = {m for p in inspect.getmro(base.PROTOCOLS[capability]) for m in vars(p) if not m.startswith("_")}
        members -= set(vars(typing.Protocol)) | {"__annotations__"}
        missing = [m for m in members if not hasattr(cls, m)]
        assert not missing, f"{name}: {capability} needs {missing}"
