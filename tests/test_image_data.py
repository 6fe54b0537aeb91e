"""Image intake: built-ins load offline, uploads are extracted safely, bad data gets a clear message."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datamodules.builtin import emoji_png_paths, is_face_emoji, load_builtin_images
from datamodules.images import ImageDataModule
from datamodules.uploads import extract_zip, import_zip_upload, scan_image_folder
from genlab.core.errors import DataError, OfflineError
from genlab.core.parsing import parse_config


def png_bytes(color: int = 128, size: int = 12, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def image_config(**data):
    return parse_config({"family": "vae", "data": {"image_size": 16, "batch_size": 4, **data}})


@pytest.mark.parametrize("name,channels,labelled", [("digits", 1, True), ("mnist", 1, True), ("animals", 1, True)])
def test_builtin_sets_load_offline_with_labels(home: Path, name: str, channels: int, labelled: bool) -> None:
    dm = ImageDataModule(image_config(name=name, max_items=64))
    dm.setup("fit")
    info = dm.info()
    assert info["channels"] == channels and info["image_size"] == 16
    assert (info["num_classes"] == 10) is labelled
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, channels, 16, 16) and 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
    assert y.dtype.is_floating_point is False


def test_emoji_is_colour_and_can_be_made_grey(home: Path) -> None:
    dm = ImageDataModule(image_config(name="emoji", max_items=16))
    dm.setup("fit")
    assert dm.info()["channels"] == 3 and dm.info()["num_classes"] == 0
    grey = ImageDataModule(image_config(name="emoji", max_items=16, color_mode="grey"))
    grey.setup("fit")
    assert grey.info()["channels"] == 1


def test_emoji_faces_are_the_single_code_point_smileys(home: Path) -> None:
    faces = [p.stem for p in emoji_png_paths() if is_face_emoji(p)]
    assert "1f600" in faces and "1f923" in faces  # grinning, rolling on the floor laughing
    assert "1f1eb-1f1f7" not in faces and "1f44d-1f3fb" not in faces  # a flag, a skin-tone thumbs-up
    images, labels, _ = load_builtin_images("emoji_faces")
    assert images.shape == (len(faces), 64, 64, 3) and labels is None
    # faces are yellow discs: the centre pixel is mostly warm (red and green high, blue low)
    centre = images[:, 32, 32].astype(int)
    assert ((centre[:, 0] > 180) & (centre[:, 2] < 120)).mean() > 0.6


def test_split_is_seeded_and_disjoint(home: Path) -> None:
    a, b = ImageDataModule(image_config(name="digits")), ImageDataModule(image_config(name="digits"))
    a.setup()
    b.setup()
    assert a.val_idx == b.val_idx and not set(a.val_idx) & set(a.train_idx)
    assert len(a.val_idx) == round(1797 * 0.1)


def test_zip_upload_with_class_folders_keeps_labels_and_reports_bad_files(home: Path, tmp_path: Path) -> None:
    members = {f"cats/{i}.png": png_bytes(40 + i) for i in range(5)}
    members |= {f"dogs/{i}.png": png_bytes(200 - i) for i in range(5)}
    members |= {"dogs/notes.txt": b"hello", "cats/broken.png": b"\x89PNG not really", "__MACOSX/x.png": b""}
    folder, report = import_zip_upload("pets", make_zip(tmp_path / "pets.zip", members))
    assert len(report.accepted) == 10 and all(p.suffix == ".png" and p.exists() for p in report.accepted)
    skipped = dict(report.skipped)
    assert "dogs/notes.txt" in skipped and "cats/broken.png" in skipped
    dm = ImageDataModule(image_config(source="folder", name="pets", batch_size=2))
    dm.setup()
    assert dm.info()["class_names"] == ["cats", "dogs"] and dm.info()["num_classes"] == 2


def test_zip_path_traversal_never_escapes(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "evil.zip", {"../escape.png": png_bytes(), "/abs.png": png_bytes(), "ok/a.png": png_bytes()}
    )
    report = extract_zip(z, tmp_path / "out")
    assert not (tmp_path / "escape.png").exists() and not Path("/abs.png").exists()
    assert [p.name for p in report.accepted] == ["a.png"]
    assert {r for _, r in report.skipped} == {"path escapes the upload folder"}


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "bomb.zip", {"big.png": b"\0" * 5_000_000})
    report = extract_zip(z, tmp_path / "out")
    assert not report.accepted and "zip bomb" in report.skipped[0][1]
    with pytest.raises(DataError, match="unpacks to"):
        extract_zip(z, tmp_path / "out2", max_total_bytes=1000)


def test_not_a_zip_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "photo.zip"
    bad.write_bytes(b"this is not a zip")
    with pytest.raises(DataError, match="not a readable .zip"):
        import_zip_upload("x", bad)


def test_all_bad_upload_is_a_clear_error_and_leaves_nothing_behind(home: Path, tmp_path: Path) -> None:
    z = make_zip(tmp_path / "docs.zip", {"a.txt": b"text", "b.csv": b"1,2"})
    with pytest.raises(DataError, match="No usable images"):
        import_zip_upload("docs", z)
    assert not (home / "uploads" / "docs").exists()


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="No usable images"):
        scan_image_folder(tmp_path / "empty")


def test_mixed_modes_and_transparency_decode_to_one_shape(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.new("RGBA", (20, 30), (255, 0, 0, 0)).save(folder / "clear.png")
    Image.new("L", (8, 8), 30).save(folder / "grey.png")
    Image.new("RGB", (50, 40), (0, 0, 255)).save(folder / "blue.jpg")
    Image.new("P", (10, 10)).save(folder / "pal.gif")
    dm = ImageDataModule(
        image_config(source="folder", name=str(folder), batch_size=2, val_fraction=0.25, color_mode="rgb")
    )
    dm.setup()
    assert dm.images.shape == (4, 3, 16, 16)
    assert np.allclose(dm.images.float().mean().item() > 0, True)


def test_batch_larger_than_data_names_the_field(home: Path) -> None:
    with pytest.raises(DataError, match="data.batch_size"):
        ImageDataModule(image_config(name="digits", max_items=20, batch_size=64)).setup()


def test_unknown_builtin_lists_the_choices(home: Path) -> None:
    with pytest.raises(DataError, match="mnist"):
        ImageDataModule(image_config(name="cifar10")).setup()


def test_hf_dataset_offline_says_what_to_do(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(OfflineError) as err:
        ImageDataModule(image_config(source="hf", name="ylecun/mnist")).setup()
    assert "ylecun/mnist" in str(err.value) and "save_to_disk" in str(err.value)
