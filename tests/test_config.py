"""Configs: exact YAML round trips, and every bad value rejected with the field path and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genlab.core.config import ConfigError
from genlab.core.parsing import apply_overrides, load_config, parse_config
from genlab.core.paths import PROJECT_ROOT
from genlab.core.registry import FAMILIES

PRESETS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_yaml_round_trip_is_exact(family: str) -> None:
    config = FAMILIES[family].tiny_config()
    again = parse_config(yaml.safe_load(config.to_yaml()))
    assert again == config
    assert again.to_yaml() == config.to_yaml()


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_preset_is_valid(path: Path) -> None:
    config = load_config(path)
    assert config.family in FAMILIES


def test_unknown_key_names_its_path_and_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"family": "vae", "optim": {"learning_rate": 0.1}})
    text = str(err.value)
    assert "optim.learning_rate: unknown key" in text
    assert "lr" in text and "optimizer" in text


def test_out_of_range_value_is_rejected_with_bound() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"family": "vae", "optim": {"lr": -1}})
    assert "optim.lr" in str(err.value) and "greater than 0" in str(err.value)


def test_wrong_type_is_rejected() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"family": "vae", "data": {"batch_size": "lots"}})
    assert "data.batch_size" in str(err.value)


def test_unsupported_choice_lists_the_allowed_values() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"family": "vae", "data": {"image_size": 30}})
    assert "data.image_size" in str(err.value) and "28" in str(err.value) and "64" in str(err.value)


def test_unknown_family_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"family": "no_such_family"})
    assert "no_such_family" in str(err.value)
    assert all(name in str(err.value) for name in FAMILIES), str(err.value)


def test_missing_family_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="family: missing"):
        parse_config({"data": {}})


def test_overrides_keep_yaml_types() -> None:
    raw = apply_overrides({"family": "vae"}, ["optim.lr=0.005", "data.hflip=true", "tags=[a, b]"])
    config = parse_config(raw)
    assert config.optim.lr == 0.005 and config.data.hflip is True and config.tags == ["a", "b"]


def test_override_without_equals_is_rejected() -> None:
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["optim.lr"])


def test_shortening_a_run_below_its_checkpoint_interval_is_accepted_with_a_note() -> None:
    config = parse_config({"family": "vae", "trainer": {"max_steps": 10, "checkpoint_every_n_steps": 50}})
    assert any("saved at the end" in note for note in config.advisories())
    assert not parse_config({"family": "vae", "trainer": {"max_steps": 100}}).advisories()


@pytest.mark.parametrize("preset", sorted(p.stem for p in (PROJECT_ROOT / "configs").glob("*.yaml")))
def test_every_preset_can_be_shortened_to_ten_steps(preset: str) -> None:
    config = load_config(PROJECT_ROOT / "configs" / f"{preset}.yaml", ["trainer.max_steps=10"])
    assert config.trainer.max_steps == 10


def test_broken_yaml_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: vae\noptim: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
