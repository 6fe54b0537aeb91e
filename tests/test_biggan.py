"""BigGAN's ingredients do what a user relies on: the class steers every conditional batch norm, attention
sits where the config says, the orthogonal penalty is zero exactly for orthogonal filters, truncation draws
z inside the bounds and trades variety away towards 0, and bad truncations or attention sides are refused
in the same words by the config (CLI and Train page), the engine, `genlab sample` and REST /sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from genlab.cli.main import main
from genlab.core.config import ConfigError
from genlab.core.errors import GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES
from genlab.core.truncation import TRUNCATION_RULE
from genlab.runner.train import build_module
from genlab.store.runs import RunStore
from genlab.use import sample as engine
from lightning_modules.biggan import (
    BigGANGenerator,
    ProjectionDiscriminator,
    SelfAttention,
    orthogonal_penalty,
    truncated_latents,
)
from tests.helpers import train_tiny

ROOT = Path(__file__).resolve().parent.parent
INFO = {"name": "digits", "channels": 1, "image_size": 16, "num_classes": 3, "class_names": ["a", "b", "c"]}


def tiny_module(**model: object):
    raw = FAMILIES["biggan"].tiny_config().model_dump(mode="json")
    raw["model"].update(model)
    return build_module(parse_config(raw), INFO).eval()


# -- the nets -----------------------------------------------------------------------------------------------


def test_attention_sits_at_the_chosen_side_in_both_nets() -> None:
    seen: list[int] = []
    g = BigGANGenerator(8, 3, 8, 1, 32, 8, attention=16, sn=True)
    d = ProjectionDiscriminator(1, 32, 8, 3, attention=16, sn=True)
    for net in (g, d):
        for m in net.modules():
            if isinstance(m, SelfAttention):
                m.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[-1]))
    y = torch.tensor([0, 2])
    d(g(torch.randn(2, 8), y), y)
    assert seen == [16, 16]
    none = BigGANGenerator(8, 3, 8, 1, 32, 8, attention=0, sn=True)
    assert not any(isinstance(m, SelfAttention) for m in none.modules())


def test_spectral_norm_is_on_every_weighted_layer_of_both_nets() -> None:
    g = BigGANGenerator(8, 3, 8, 1, 16, 8, attention=8, sn=True)
    d = ProjectionDiscriminator(1, 16, 8, 3, attention=8, sn=True)
    layers = [
        m for net in (g, d) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) or m is d.embed
    ]
    assert layers and all(hasattr(m, "weight_orig") for m in layers)
    assert not hasattr(g.shared, "weight_orig"), "BigGAN's shared class embedding is not normalised"


def test_the_class_changes_the_image_for_the_same_z_through_the_conditional_batch_norm() -> None:
    module = tiny_module()
    z = torch.randn(1, module.latent_dim).repeat(3, 1)
    images = module.images_from_latents(z, [0, 1, 2])
    assert (images[0] - images[1]).abs().max() > 1e-3 and (images[1] - images[2]).abs().max() > 1e-3


def test_orthogonal_penalty_is_zero_for_orthogonal_filters_and_grows_with_overlap() -> None:
    net = torch.nn.Linear(6, 4, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.linalg.qr(torch.randn(6, 4)).Q.t() * 3.0)  # orthogonal rows, any norm
    assert orthogonal_penalty(net).item() == pytest.approx(0.0, abs=1e-8)
    with torch.no_grad():
        net.weight[1] = net.weight[0]
    assert orthogonal_penalty(net).item() > 1.0


# -- truncation ---------------------------------------------------------------------------------------------


def test_truncated_latents_stay_inside_the_scaled_bounds_and_one_means_plain_normal() -> None:
    z = truncated_latents(4000, 8, 0.5, seed=1)
    assert z.abs().max() <= 1.0 + 1e-6 and z.std() > 0.3
    # below 1, one seed is one draw scaled by the truncation: lowering it moves every z straight towards 0
    torch.testing.assert_close(truncated_latents(4000, 8, 0.25, seed=1), z / 2)
    plain = truncated_latents(4000, 8, 1.0, seed=1)
    assert torch.equal(plain, torch.randn(4000, 8, generator=torch.Generator().manual_seed(1)))
    assert plain.abs().max() > 2.0
    assert torch.count_nonzero(truncated_latents(5, 8, 0.0, seed=3)) == 0


def settled_module(seed: int):
    """A tiny untrained BigGAN built from its own seed (not from whatever global RNG state the tests before
    left), its sampler run forward once in training mode, as the generator is at every training step (and
    the EMA sampler copies its buffers). Before that pass the spectral norms divide each weight by an
    estimate from random vectors, off by up to thousands and of either sign: tanh saturates, the images
    hardly depend on how large z is, and whether truncation 0.5 varied less than 1 was a coin flip."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = tiny_module()
    g = torch.Generator().manual_seed(seed)
    net = module.sampler.train()
    with torch.no_grad():
        net(torch.randn(64, module.latent_dim, generator=g), torch.randint(0, module.num_classes, (64,), generator=g))
    module.eval()
    return module


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_truncation_trades_variety_away_and_zero_gives_one_image_per_class(seed: int) -> None:
    module = settled_module(seed)
    assert engine.default_truncation(module) == 1.0
    ts = (0.0, 0.25, 0.5, 1.0)
    images = {t: engine.sample(module, 64, seed=5, labels=1, truncation=t) for t in ts}
    spread = [float(images[t].std(axis=0).mean()) for t in ts]  # per-pixel spread over 64 samples
    to_zero = [float(np.linalg.norm((images[t] - images[0.0]).reshape(64, -1), axis=1).mean()) for t in ts]
    assert spread[0] < 1e-6 < spread[1] < spread[2] < spread[3], spread  # less variety at each lower truncation
    assert to_zero[0] < 1e-6 < to_zero[1] < to_zero[2] < to_zero[3], to_zero  # samples pulled towards truncation 0
    same = engine.sample(module, 4, seed=9, labels=2, truncation=0.0)
    other_seed = engine.sample(module, 4, seed=10, labels=2, truncation=0.0)
    np.testing.assert_array_equal(same, other_seed)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_the_engine_refuses_a_truncation_outside_0_1_in_the_configs_words(bad: float) -> None:
    with pytest.raises(GenLabError, match=r"truncation must be between 0 and 1"):
        engine.sample(tiny_module(), 2, truncation=bad)


def test_a_model_without_the_truncation_trick_says_so() -> None:
    cfg = FAMILIES["cgan"].tiny_config()
    with pytest.raises(GenLabError, match="has no truncation setting.*biggan"):
        engine.sample(build_module(cfg, INFO).eval(), 2, truncation=0.5)


# -- bad configs: the same words in the CLI and the Train page (both show parse_config's ConfigError) --------


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["model.truncation=1.5"], f"model.truncation: {TRUNCATION_RULE} (got 1.5)"),
        (["model.truncation=-0.2"], f"model.truncation: {TRUNCATION_RULE} (got -0.2)"),
        (
            ["model.attention_resolution=20"],
            "model.attention_resolution: the nets never work at 20 px with 28 px images; "
            "use 0 (no attention) or one of: 14",
        ),
        (
            ["model.attention_resolution=32", "data.image_size=32"],
            "model.attention_resolution: the nets never work at 32 px with 32 px images; "
            "use 0 (no attention) or one of: 8, 16",
        ),
    ],
)
def test_bad_biggan_configs_exit_2_with_the_train_pages_words(home: Path, capsys, overrides, says) -> None:
    argv = ["train", "--config", str(ROOT / "configs" / "biggan_mnist.yaml")]
    for item in overrides:
        argv += ["--set", item]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err
    assert not (home / "runs").exists() or not any((home / "runs").iterdir()), "no run left behind"

    import yaml

    raw = yaml.safe_load((ROOT / "configs" / "biggan_mnist.yaml").read_text())
    for item in overrides:
        key, value = item.split("=")
        section, name = key.split(".")
        raw[section][name] = yaml.safe_load(value)
    with pytest.raises(ConfigError) as caught:  # what the Train page lists, line by line
        parse_config(raw)
    assert says in str(caught.value)


# -- CLI and REST on a trained tiny run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Iterator[tuple[RunStore, str]]:
    home = tmp_path_factory.mktemp("biggan_home")
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        run_id, _ = train_tiny(store, FAMILIES["biggan"])
        yield store, run_id
        store.close()


def test_generator_steps_carry_the_orthogonal_penalty(trained) -> None:
    store, run_id = trained
    values = [v for _, v in store.metric_series(run_id, "train/ortho")]
    assert values and all(v > 0 for v in values)


def test_cli_sample_takes_a_truncation_and_refuses_a_bad_one(trained, tmp_path: Path, capsys) -> None:
    _, run_id = trained
    out = tmp_path / "t.png"
    assert main(["sample", run_id, "--n", "4", "--labels", "1", "--truncation", "0.4", "--out", str(out)]) == 0
    assert out.is_file()
    capsys.readouterr()
    assert main(["sample", run_id, "--truncation", "1.2", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert f"{TRUNCATION_RULE} (got 1.2)" in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_rest_sample_takes_a_truncation_and_refuses_a_bad_one(trained) -> None:
    from genlab.serve import create_app

    store, run_id = trained
    app = create_app([run_id], store, require_keys=False, rate_per_minute=0, load_in_background=False)
    with TestClient(app) as c:
        zero = [
            c.post(
                f"/runs/{run_id}/sample", json={"n": 2, "seed": s, "label": 0, "truncation": 0.0, "format": "base64"}
            )
            for s in (1, 2)
        ]
        assert all(r.status_code == 200 for r in zero), zero[0].text
        assert zero[0].json() == zero[1].json(), "truncation 0: the same image whatever the seed"
        bad = c.post(f"/runs/{run_id}/sample", json={"n": 1, "truncation": 3.0})
        assert bad.status_code in (400, 422) and "truncation must be between 0 and 1" in bad.text
