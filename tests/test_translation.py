"""CycleGAN and pix2pix: nets, contract (build, tiny fit, reload), learning, translate API and CLI."""

from __future__ import annotations

import io
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from datamodules.paired import PairedDataModule
from genlab.core.errors import DataError, GenLabError
from genlab.core.parsing import load_config, parse_config
from genlab.core.registry import FAMILIES
from genlab.runner.build import module_class
from lightning_modules.translation_nets import (
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    UNetGenerator,
    linear_decay,
)
from tests.test_paired_data import write_domains

ROOT = Path(__file__).resolve().parent.parent
PRESETS = ["cyclegan_emoji", "pix2pix_edges2emoji", "pix2pix_emoji"]


def tiny(family: str, root: Path, **data) -> object:
    """The family's tiny config on a synthetic folder pair (shapes -> colour-inverted shapes)."""
    raw = FAMILIES[family].tiny_config().model_dump(mode="json")
    raw["data"].update({"source": "folder", "name": str(root), "max_items": None, "min_images": 4}, **data)
    return parse_config(raw)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small convs on a shared 2-core CPU run ~20x faster on one thread than on two contended ones."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- networks ------------------------------------------------------------------------------------


def test_networks_keep_the_image_size_and_map_channels() -> None:
    x = torch.rand(2, 1, 32, 32)
    assert ResnetGenerator(1, 3, width=8, n_blocks=6)(x).shape == (2, 3, 32, 32)
    unet = UNetGenerator(1, 3, width=8, depth=5)
    assert unet(x).shape == (2, 3, 32, 32)
    y = unet(x)
    assert y.min() >= -1 and y.max() <= 1  # tanh output


def test_patchgan_with_three_layers_sees_70x70_patches() -> None:
    d = PatchDiscriminator(3, width=8, n_layers=3, norm="batch").eval()  # instance norm would mix globally
    x = torch.zeros(1, 3, 128, 128, requires_grad=True)
    out = d(x)  # (1, 1, 14, 14)
    assert out.shape == (1, 1, 14, 14)
    out[0, 0, 7, 7].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero()
    cols = x.grad.abs().sum(dim=(0, 1, 2)).nonzero()
    assert int(rows.max() - rows.min()) + 1 == 70 and int(cols.max() - cols.min()) + 1 == 70


def test_unet_skip_connections_carry_fine_detail() -> None:
    torch.manual_seed(0)
    unet = UNetGenerator(1, 1, width=8, depth=4, dropout=0.0).eval()
    x = torch.zeros(1, 1, 16, 16, requires_grad=True)
    unet(x)[0, 0, 3, 3].backward()
    assert x.grad[0, 0, 3, 3] != 0  # the outermost skip links each output pixel to its own input pixel


def test_lr_is_constant_then_decays_linearly_to_zero() -> None:
    f = linear_decay(100, 0.5)
    assert f(0) == 1.0 and f(49) == 1.0
    assert f(75) == pytest.approx(0.5) and f(100) == 0.0


def test_image_pool_returns_past_fakes_once_full() -> None:
    pool = ImagePool(4, torch.Generator().manual_seed(0))
    first = torch.zeros(4, 1, 2, 2)
    assert torch.equal(pool.query(first), first)  # filling: the fakes themselves
    later = torch.cat([pool.query(torch.ones(4, 1, 2, 2)) for _ in range(5)])
    assert (later.flatten(1).amax(1) == 0).any() and (later.flatten(1).amax(1) == 1).any()


# -- contract: build, tiny fit through the run store, reload gives the same output ------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """One tiny run per family through genlab.runner.train.fit, shared by the tests below."""
    home = tmp_path_factory.mktemp("translation_home")
    data = write_domains(tmp_path_factory.mktemp("domains"), 24)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        from genlab.runner.train import fit
        from genlab.store.runs import RunStore

        store = RunStore(home)
        runs = {}
        for family in ("cyclegan", "pix2pix"):
            run = store.create_run(tiny(family, data, val_fraction=0.25))
            assert fit(store, run.id) == "completed"
            runs[family] = run.id
        yield store, runs, data
        store.close()


@pytest.mark.parametrize("family", ["cyclegan", "pix2pix"])
def test_tiny_fit_logs_metrics_panels_and_reloads_with_the_same_output(trained, family: str) -> None:
    from genlab.runner.checkpoints import load_module

    store, runs, _ = trained
    run_id = runs[family]
    last = store.last_metrics([run_id])[run_id]
    monitor = FAMILIES[family].monitor
    assert monitor in last and np.isfinite(last[monitor])
    wanted = ["val/l1_AtoB", "val/psnr_BtoA", "val/ssim_AtoB"] if family == "cyclegan" else ["val/psnr", "val/ssim"]
    assert all(k in last for k in wanted)
    panels = store.artifacts(run_id, kind="samples")
    assert panels and Path(panels[-1]["path"]).is_file()
    a = load_module(store, run_id, "last")
    b = load_module(store, run_id, "last")
    for name, images in a.sample_images().items():
        assert images.shape[0] == 3 * a.run_config.model.n_panel  # rows of input | translation | third column
        assert torch.allclose(images, b.sample_images()[name])
    assert a.fixed_a.abs().sum() > 0 if family == "cyclegan" else a.fixed_in.abs().sum() > 0


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_validate_and_round_trip_through_yaml(preset: str) -> None:
    cfg = load_config(ROOT / "configs" / f"{preset}.yaml")
    assert parse_config(__import__("yaml").safe_load(cfg.to_yaml())) == cfg


# -- learning -----------------------------------------------------------------------------------


def test_cycle_consistency_improves_with_a_little_training(home: Path, tmp_path: Path) -> None:
    data = write_domains(tmp_path / "d", 24)
    cfg = tiny("cyclegan", data, hflip=False)
    dm = PairedDataModule(cfg)
    dm.setup("fit")
    L.seed_everything(0, verbose=False)
    module = module_class(FAMILIES["cyclegan"])(cfg.model_dump(mode="json"), dm.info())
    fixed = dm.fixed_batch(8)
    with torch.no_grad():
        before = float(module.eval().cycle_l1(fixed["A"], fixed["B"]))
    trainer = L.Trainer(
        max_epochs=6,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=dm)
    with torch.no_grad():
        after = float(module.eval().cycle_l1(fixed["A"], fixed["B"]))
    assert after < 0.7 * before, (before, after)


@pytest.mark.slow
def test_pix2pix_learns_the_colour_inversion(home: Path, tmp_path: Path) -> None:
    data = write_domains(tmp_path / "d", 32)
    cfg = tiny("pix2pix", data, hflip=False)
    dm = PairedDataModule(cfg)
    dm.setup("fit")
    L.seed_everything(0, verbose=False)
    module = module_class(FAMILIES["pix2pix"])(cfg.model_dump(mode="json"), dm.info())
    fixed = dm.fixed_batch(8)
    with torch.no_grad():
        before = float((module.eval().translate(fixed["A"]) - fixed["B"]).abs().mean())
    L.Trainer(
        max_epochs=15,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(module, datamodule=dm)
    with torch.no_grad():
        after = float((module.eval().translate(fixed["A"]) - fixed["B"]).abs().mean())
    assert after < 0.5 * before, (before, after)


# -- translate API and CLI --------------------------------------------------------------------------


@pytest.mark.parametrize("size,mode", [((53, 37), "RGB"), ((16, 16), "L"), ((200, 31), "RGBA"), ((40, 90), "P")])
def test_translate_round_trip_keeps_the_input_size(trained, size: tuple[int, int], mode: str) -> None:
    from genlab.use.translate import translate

    store, runs, _ = trained
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    for family, direction in (("cyclegan", "AtoB"), ("cyclegan", "BtoA"), ("pix2pix", None)):
        out = translate(store, runs[family], im, direction)
        assert out.size == size and out.mode == "RGB"


def test_translate_rejects_bad_images_with_clear_errors(trained, tmp_path: Path) -> None:
    from genlab.use.translate import translate

    store, runs, _ = trained
    rid = runs["pix2pix"]
    with pytest.raises(DataError, match="not an image"):
        translate(store, rid, b"\x89PNG\r\n\x1a\n definitely not a png")
    buf = io.BytesIO()
    Image.fromarray(np.zeros((20, 20), dtype=np.uint16)).save(buf, format="PNG")
    with pytest.raises(DataError, match="pixel mode 'I;16'"):
        translate(store, rid, buf.getvalue())
    huge = tmp_path / "huge.png"
    Image.new("1", (7000, 6000)).save(huge)  # 42 megapixels, tiny on disk: refused from its header
    with pytest.raises(DataError, match="longest side may be at most"):
        translate(store, rid, huge)
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(DataError):
        translate(store, rid, truncated)
    with pytest.raises(GenLabError, match="translates AtoB only|AtoB; 'BtoA' is not available"):
        translate(store, rid, good, "BtoA")


def test_cli_translate_writes_same_sized_images(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from genlab.cli.main import main

    store, runs, data = trained
    monkeypatch.setenv(
        "GENLAB_HOME", str(store.home) if hasattr(store, "home") else str(store.run_folder("x").parent.parent)
    )
    src = sorted((data / "A").glob("*.png"))[:2]
    code = main(["translate", runs["cyclegan"], *map(str, src), "--direction", "AtoB", "--out", str(tmp_path / "out")])
    assert code == 0
    outputs = sorted((tmp_path / "out").glob("*_AtoB.png"))
    assert len(outputs) == 2 and Image.open(outputs[0]).size == Image.open(src[0]).size
    assert main(["translate", runs["pix2pix"], str(src[0]), "--direction", "BtoA"]) == 2
    assert "not available" in capsys.readouterr().err


def test_evaluation_reports_l1_psnr_ssim_and_fid_kid_per_direction() -> None:
    from lightning_modules.translation_nets import TranslationEval

    ev = TranslationEval(["AtoB", "BtoA"], aligned=True, fid=True, image_size=16, fid_features="pixels")
    g = torch.Generator().manual_seed(0)
    real = torch.rand(12, 3, 16, 16, generator=g)
    ev.update("AtoB", real, real)  # perfect translations
    ev.update("BtoA", torch.rand(12, 3, 16, 16, generator=g), real)  # unrelated images
    out = ev.compute_and_reset()
    assert out["val/l1_AtoB"] == 0 and out["val/ssim_AtoB"] == pytest.approx(1.0)
    assert out["val/l1_BtoA"] > 0.2 and out["val/psnr_BtoA"] < out["val/psnr_AtoB"]
    assert out["val/fid_AtoB"] < out["val/fid_BtoA"] and "val/kid_BtoA" in out
    assert ev.compute_and_reset() == {}  # reset: nothing seen since


def test_evaluate_scores_a_run_per_direction(trained) -> None:
    from genlab.use.translate import evaluate

    store, runs, _ = trained
    cyc = evaluate(store, runs["cyclegan"], fid_features="pixels", which="last")
    for direction in ("AtoB", "BtoA"):
        assert {f"val/l1_{direction}", f"val/psnr_{direction}", f"val/fid_{direction}", f"val/kid_{direction}"} <= set(
            cyc
        )
    assert 0 < cyc["val/cycle_l1"] < 1
    p2p = evaluate(store, runs["pix2pix"], fid_features="pixels", which="last")
    assert {"val/l1", "val/ssim", "val/fid", "val/kid"} <= set(p2p)
