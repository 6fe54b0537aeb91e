"""StarGAN: the nets' shapes, one tiny run translated into every domain through the engine, the CLI and
REST (a bad target domain is refused clearly), its per-domain scores, and the multi-domain data refusals
(one domain, an empty domain, too few images)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.cli.main import main as cli
from genlab.core.config import ConfigError
from genlab.core.errors import DataError, GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES
from genlab.store.runs import RunStore
from tests.helpers import train_tiny

FAMILY = FAMILIES["stargan"]
DOMAINS = ["twemoji", "openmoji", "openmoji_lines"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Iterator[tuple[RunStore, str, object]]:
    """One completed tiny run (the family's tiny config: 16 px faces of the three emoji domains)."""
    home = tmp_path_factory.mktemp("stargan_home")
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        run_id, module = train_tiny(store, FAMILY)
        yield store, run_id, module
        store.close()


def _png(size: tuple[int, int], colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_generator_and_critic_shapes() -> None:
    from lightning_modules.stargan_nets import StarDiscriminator, StarGenerator, one_hot

    g, d = StarGenerator(3, 4, width=4, blocks=1), StarDiscriminator(3, 32, 4, width=4, layers=4)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = g(x, one_hot(torch.tensor([0, 3]), 4))
    assert y.shape == x.shape and float(y.abs().max()) <= 1.0
    src, cls = d(y)
    assert src.shape == (2, 1, 2, 2) and cls.shape == (2, 4)
    assert not torch.allclose(g(x, one_hot(torch.tensor([0, 0]), 4)), g(x, one_hot(torch.tensor([1, 1]), 4)))


def test_a_run_translates_one_image_into_every_domain_at_its_size(trained) -> None:
    from genlab.use.translate import translate_image, translate_into_every_domain

    store, run_id, module = trained
    assert module.domains() == DOMAINS and module.directions() == DOMAINS
    row = translate_into_every_domain(module.eval(), _png((40, 24)))
    assert [d for d, _ in row] == DOMAINS
    assert all(im.size == (40, 24) and im.mode == "RGB" for _, im in row)
    with pytest.raises(GenLabError, match="unknown target domain 'sketch': this run knows the domains twemoji"):
        translate_image(module, _png((16, 16)), "sketch")
    with pytest.raises(GenLabError, match="this run knows the domains twemoji, openmoji, openmoji_lines"):
        module.translate_to(torch.rand(1, 3, 16, 16), "sketch")


def test_cli_translates_into_a_domain_or_all_of_them_and_refuses_unknown_ones(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store, run_id, _ = trained
    monkeypatch.setenv("GENLAB_HOME", str(store.home))
    src = tmp_path / "face.png"
    src.write_bytes(_png((20, 20)))
    out = tmp_path / "out"
    assert cli(["translate", run_id, str(src), "--domain", "openmoji_lines", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["face_openmoji_lines.png"]
    assert cli(["translate", run_id, str(src), "--out", str(out / "all")]) == 0
    assert sorted(p.name for p in (out / "all").iterdir()) == sorted(f"face_{d}.png" for d in DOMAINS)
    capsys.readouterr()
    assert cli(["translate", run_id, str(src), "--domain", "sketch", "--out", str(out)]) == 2
    assert "unknown target domain 'sketch': this run knows the domains twemoji, openmoji, openmoji_lines" in (
        capsys.readouterr().err
    )
    assert cli(["translate", run_id, str(src), "--direction", "AtoB"]) == 2
    assert "name one with --domain" in capsys.readouterr().err


def test_rest_translate_takes_a_target_domain_and_answers_422_for_an_unknown_one(trained) -> None:
    from fastapi.testclient import TestClient

    from genlab.serve import create_app

    store, run_id, _ = trained
    app = create_app([run_id], store, require_keys=False, rate_per_minute=0, load_in_background=False)
    upload = {"file": ("face.png", _png((24, 24)), "image/png")}
    with TestClient(app) as client:
        r = client.post(f"/runs/{run_id}/translate", params={"domain": "openmoji"}, files=upload)
        assert r.status_code == 200, r.text
        assert Image.open(io.BytesIO(r.content)).size == (24, 24)
        r = client.post(f"/runs/{run_id}/translate", params={"domain": "sketch"}, files=upload)
        assert r.status_code == 422 and "unknown target domain 'sketch'" in r.text and "openmoji_lines" in r.text
        r = client.post(f"/runs/{run_id}/translate", params={"direction": "AtoB"}, files=upload)
        assert r.status_code == 422 and "domain=NAME" in r.text
        info = client.get(f"/runs/{run_id}").json()
        assert info["domains"] == DOMAINS


def test_scores_per_target_domain_and_classifier_accuracy(trained) -> None:
    from genlab.use.translate import evaluate

    store, run_id, _ = trained
    keys = set(store.metric_keys(run_id))
    assert {"val/cycle_l1", "val/domain_acc", "val/domain_acc_real", "train/gp", "train/d_cls"} <= keys
    scores = evaluate(store, run_id, fid_features="pixels")
    for d in DOMAINS:
        assert np.isfinite(scores[f"val/fid_{d}"]) and np.isfinite(scores[f"val/kid_{d}"])
    assert 0.0 <= scores["val/domain_acc"] <= 1.0 and scores["val/cycle_l1"] > 0


# -- bad inputs --------------------------------------------------------------------------------------


def _domains(root: Path, counts: dict[str, int]) -> Path:
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (16, 16), (i * 9 % 255, 80, 160)).save(root / name / f"{i}.png")
    return root


def _folder_config(folder: Path, **data: object):
    return parse_config(
        {"family": "stargan", "data": {"source": "folder", "name": str(folder), "image_size": 16, **data}}
    )


def _setup(config) -> None:
    from datamodules.multi_domain import MultiDomainDataModule

    MultiDomainDataModule(config).setup("fit")


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"only": 10}, "needs at least two domains, one subfolder of images each; .* has one subfolder \\(only\\)"),
        ({"cats": 10, "dogs": 0, "owls": 10}, "Domain 'dogs' is empty"),
        ({"cats": 10, "dogs": 3}, "Domain 'dogs' has 3 image\\(s\\); each domain needs at least data.min_images = 8"),
    ],
)
def test_bad_domain_layouts_are_refused_with_what_to_do(
    tmp_path: Path, home: Path, counts: dict[str, int], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        _setup(_folder_config(_domains(tmp_path / "set", counts)))


def test_a_folder_of_three_domains_trains_with_their_names(tmp_path: Path, home: Path) -> None:
    from datamodules.multi_domain import MultiDomainDataModule

    config = _folder_config(_domains(tmp_path / "set", {"a": 9, "b": 10, "c": 12}), batch_size=4, val_fraction=0.1)
    dm = MultiDomainDataModule(config)
    dm.setup("fit")
    info = dm.info()
    assert info["domains"] == ["a", "b", "c"] and info["domain_counts"] == [9, 10, 12]
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 3, 16, 16) and set(y.tolist()) <= {0, 1, 2}
    _, vy = dm.fixed_batch(3)
    assert vy.tolist() == [0, 1, 2], "the panel shows each domain in turn"


def test_config_refusals_name_the_field() -> None:
    with pytest.raises(ConfigError, match="unknown built-in multi-domain set 'emoji9'"):
        parse_config({"family": "stargan", "data": {"name": "emoji9"}})
    with pytest.raises(ConfigError, match="model.disc_layers 6 is too deep for 32 px images; use at most 5"):
        parse_config({"family": "stargan", "model": {"disc_layers": 6}})
