"""Two-domain data: validation report, pairing, layouts, pair-consistent augmentation, built-in pairs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules.emoji_pairs import edge_drawings
from datamodules.paired import PairedDataModule
from datamodules.paired_intake import validate_paired
from genlab.core.data_config import PairedDataConfig
from genlab.core.errors import DataError
from genlab.families.cyclegan import CycleGANRunConfig
from genlab.families.pix2pix import Pix2PixRunConfig


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small convs on a shared 2-core CPU run ~20x faster on one thread than on two contended ones."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def shape_image(i: int, size: int = 24) -> np.ndarray:
    """A seeded coloured rectangle on white (H, W, 3) uint8."""
    rng = np.random.default_rng(i)
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    y0, x0 = rng.integers(0, size // 2, 2)
    h, w = rng.integers(size // 4, size // 2, 2)
    img[y0 : y0 + h, x0 : x0 + w] = rng.integers(0, 200, 3)
    return img


def write_domains(root: Path, n: int, size: int = 24, extra_a: int = 0, extra_b: int = 0) -> Path:
    """root/A/imgNNN.png (shapes) and root/B/imgNNN.png (the same shapes with colours inverted)."""
    (root / "A").mkdir(parents=True, exist_ok=True)
    (root / "B").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a = shape_image(i, size)
        Image.fromarray(a).save(root / "A" / f"img{i:03d}.png")
        Image.fromarray(255 - a).save(root / "B" / f"img{i:03d}.png")
    for j in range(extra_a):
        Image.fromarray(shape_image(1000 + j, size)).save(root / "A" / f"only_a{j}.png")
    for j in range(extra_b):
        Image.fromarray(shape_image(2000 + j, size)).save(root / "B" / f"only_b{j}.png")
    return root


def paired_config(root: Path | str, **data) -> Pix2PixRunConfig:
    base = {"source": "folder", "name": str(root), "image_size": 16, "batch_size": 4, "min_images": 4}
    base.update(data)
    return Pix2PixRunConfig(data=base, model={"unet_depth": 4, "disc_layers": 2})


def test_report_counts_domains_and_lists_unmatched_names(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "d", 10, extra_a=2, extra_b=1)
    report = validate_paired(paired_config(root).data)
    assert (report.count_a, report.count_b, report.pairs) == (12, 11, 10)
    assert report.unmatched_a == ["only_a0.png", "only_a1.png"]
    assert report.unmatched_b == ["only_b0.png"]
    assert report.ok
    text = report.summary()
    assert "no partner of the same name" in text and "only_a0.png" in text
    json.dumps(report.to_dict())  # primitives only: the UI and the REST API can ship it


def test_report_flags_mixed_sizes_and_grey_colour_mix(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "d", 8)
    Image.fromarray(shape_image(99, 40)).save(root / "A" / "img000.png")  # another size
    Image.fromarray(shape_image(98)[..., 0]).convert("L").save(root / "B" / "img001.png")  # grey among colour
    report = validate_paired(paired_config(root).data)
    assert report.sizes_a == {"24x24": 7, "40x40": 1}
    assert (report.grey_b, report.colour_b) == (1, 7)
    text = report.summary()
    assert "2 different sizes" in text and "mixes 1 grey and 7 colour" in text


def test_too_few_images_is_an_error_that_names_the_setting(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "d", 3)
    cfg = paired_config(root, min_images=8)
    report = validate_paired(cfg.data)
    assert not report.ok and "data.min_images" in report.errors[0]
    with pytest.raises(DataError, match="only 3 matched pair"):
        PairedDataModule(cfg).setup("fit")


def test_paired_data_without_matching_names_is_refused(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "d", 0, extra_a=6, extra_b=6)
    with pytest.raises(DataError, match="matched by file name"):
        PairedDataModule(paired_config(root)).setup("fit")


def test_unpaired_data_needs_no_matching_names(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "d", 0, extra_a=9, extra_b=7)
    cfg = CycleGANRunConfig(
        data={"source": "folder", "name": str(root), "image_size": 16, "batch_size": 4, "min_images": 4},
        model={"disc_layers": 2},
    )
    dm = PairedDataModule(cfg)
    dm.setup("fit")
    info = dm.info()
    assert info["aligned_val"] is False and info["n_train_a"] + info["n_val"] == 9
    batch = next(iter(dm.train_dataloader()))
    assert batch["A"].shape == (4, 3, 16, 16) and batch["B"].shape == (4, 3, 16, 16)


def test_missing_domain_folders_get_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    Image.fromarray(shape_image(0)).save(tmp_path / "flat" / "x.png")
    report = validate_paired(paired_config(tmp_path / "flat").data)
    assert not report.ok and "A/ and B/" in report.errors[0]


def test_side_by_side_layout_splits_each_file_into_a_and_b(tmp_path: Path) -> None:
    folder = tmp_path / "sbs"
    folder.mkdir()
    for i in range(8):
        img = np.zeros((20, 40, 3), dtype=np.uint8)
        img[:, :20] = (255, 0, 0)  # A: red on the left
        img[:, 20:] = (0, 0, 255)  # B: blue on the right
        Image.fromarray(img).save(folder / f"p{i}.jpg", quality=100)
    dm = PairedDataModule(paired_config(folder, layout="side_by_side", hflip=False))
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    a, b = batch["A"].mean(dim=(0, 2, 3)), batch["B"].mean(dim=(0, 2, 3))
    assert a[0] > 0.9 and a[2] < 0.1 and b[2] > 0.9 and b[0] < 0.1


def test_crop_and_flip_are_the_same_for_both_images_of_a_pair(tmp_path: Path) -> None:
    root = tmp_path / "same"
    write_domains(root, 12)
    for p in (root / "A").glob("*.png"):  # B identical to A: any inconsistency shows as a difference
        (root / "B" / p.name).write_bytes(p.read_bytes())
    dm = PairedDataModule(paired_config(root, load_size=24, hflip=True))
    dm.setup("fit")
    for batch in dm.train_dataloader():
        assert torch.equal(batch["A"], batch["B"])
    # and the augmentation really varies: the same images in a later epoch get other crops and flips
    loader = dm.train_dataloader()
    first = next(iter(loader))["A"]
    again = next(iter(loader))["A"]  # the sampler's epoch is unchanged, so these are the same images
    assert not torch.equal(first, again)


def test_zip_uploads_per_domain_are_extracted_safely(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "d", 8)
    zips = []
    for dom in ("A", "B"):
        z = tmp_path / f"{dom}.zip"
        with zipfile.ZipFile(z, "w") as zf:
            for p in sorted((root / dom).glob("*.png")):
                zf.write(p, p.name)
            zf.writestr("../escape.png", b"x")  # a path-traversal member is skipped, never written
        zips.append(z)
    cfg = paired_config("unused", path_a=str(zips[0]), path_b=str(zips[1]))
    report = validate_paired(cfg.data)
    assert report.pairs == 8 and report.ok
    assert not (tmp_path / "escape.png").exists()


def test_unpaired_training_draws_b_independently_but_keeps_true_pairs_for_validation(tmp_path: Path) -> None:
    root = write_domains(tmp_path / "d", 24)
    cfg = CycleGANRunConfig(
        data={
            "source": "folder",
            "name": str(root),
            "image_size": 16,
            "batch_size": 4,
            "min_images": 4,
            "hflip": False,
            "val_fraction": 0.25,
        },
        model={"disc_layers": 2},
    )
    dm = PairedDataModule(cfg)
    dm.setup("fit")
    assert dm.info()["aligned_val"] is True and dm.info()["paired"] is False
    mismatched = sum(not torch.allclose(1 - b["A"], b["B"], atol=0.02) for b in dm.train_dataloader())
    assert mismatched > 0  # B is not A's partner during training
    for b in dm.val_dataloader():  # validation keeps the true partners (B = inverted A)
        assert torch.allclose(1 - b["A"], b["B"], atol=0.02)


def test_paired_config_rules() -> None:
    with pytest.raises(ValueError, match="data.paired must be true"):
        Pix2PixRunConfig(data={"paired": False})
    with pytest.raises(ValueError, match="load_size"):
        PairedDataConfig(image_size=32, load_size=20)
    with pytest.raises(ValueError, match="path_a and data.path_b"):
        PairedDataConfig(path_a="x")
    with pytest.raises(ValueError, match="too deep"):
        CycleGANRunConfig(data={"image_size": 16}, model={"disc_layers": 3})
    with pytest.raises(ValueError, match="unknown built-in pair"):
        PairedDataConfig(name="horses")


def test_edge_drawings_are_black_lines_on_white() -> None:
    img = np.full((1, 32, 32, 3), 255, dtype=np.uint8)
    img[0, 8:24, 8:24] = (200, 30, 30)
    edges = edge_drawings(img, sigma=1.0)
    assert edges.shape == (1, 32, 32, 1)
    assert edges[0, 0, 0, 0] == 255 and edges[0, 16, 16, 0] == 255  # flat areas stay white
    assert (edges == 0).sum() > 40  # the square's outline is drawn


@pytest.mark.slow
def test_builtin_pairs_load_offline(home: Path) -> None:
    cfg = CycleGANRunConfig(data={"name": "emoji", "max_items": 64, "image_size": 32})
    dm = PairedDataModule(cfg)
    dm.setup("fit")
    assert dm.report.pairs > 3900 and dm.info()["domain_b"] == "OpenMoji"
    edges = PairedDataModule(Pix2PixRunConfig(data={"name": "edges2emoji", "max_items": 64}))
    edges.setup("fit")
    info = edges.info()
    assert (info["channels_a"], info["channels_b"]) == (1, 3)
