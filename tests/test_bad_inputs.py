"""The bad-input catalogue: uploads, configs, images, CLI arguments, run ids and paths a user (or a
visitor of the web app) can get wrong. Each gives a clear message naming what to change (exit code 2 in
the CLI), never a traceback, and leaves nothing behind: no run row or folder, no upload, no temp file.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from datamodules.uploads import extract_zip, import_zip_upload, list_uploads
from genlab.cli.main import main
from genlab.core.config import ConfigError
from genlab.core.errors import DataError, GenLabError
from genlab.core.parsing import parse_config
from genlab.core.registry import FAMILIES
from genlab.data.paths import confine_config_paths, confine_path
from genlab.runner import jobs
from genlab.store.runs import check_run_id
from genlab.use.translate import open_image

ROOT = Path(__file__).resolve().parent.parent


def png_bytes(w: int, h: int, colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, "PNG")
    return buf.getvalue()


def noise_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
    return buf.getvalue()


def nothing_left(home: Path) -> None:
    """No run, no upload and no temp file anywhere under the home."""
    runs = home / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "no run folder left behind"
    uploads = home / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir()), "no upload left behind"
    assert not [p for p in home.rglob("*") if ".tmp-" in p.name or p.name.endswith(".incoming")]


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


# -- CLI arguments and configs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["optim.lr=nan"], "optim.lr: Input should be a finite number"),
        (["optim.lr=.nan"], "optim.lr: Input should be a finite number (got nan)"),
        (["optim.lr=.inf"], "optim.lr: Input should be a finite number (got inf)"),
        (["optim.lr=-.inf"], "finite number"),
        (["trainer.devices=0"], "trainer.devices: must be 'auto' or a whole number from 1 to 64"),
        (["trainer.devices=-3"], "from 1 to 64"),
        (["trainer.devices=64", "trainer.accelerator=cpu"], "CPU processes but this machine has"),
        (["optim.lr"], "--set expects key.path=value"),
        (["trainer.no_such_knob=1"], "unknown key"),
    ],
)
def test_bad_config_values_exit_2_with_the_field_named(home, capsys, overrides, says) -> None:
    argv = ["train", "--config", str(ROOT / "configs" / "vae_mnist.yaml")]
    for item in overrides:
        argv += ["--set", item]
    code, err = cli(capsys, *argv)
    assert code == 2 and says in err, err
    nothing_left(home)


def test_a_missing_or_broken_config_file_exits_2(home, tmp_path, capsys) -> None:
    code, err = cli(capsys, "train", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "Config file not found" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("family: vae\noptim: {lr: [\n", encoding="utf-8")
    code, err = cli(capsys, "train", "--config", str(broken))
    assert code == 2 and "not valid YAML" in err
    nothing_left(home)


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x" * 200, "a..b", "-rf", "run id"])
def test_bad_run_ids_are_refused_before_anything_is_written(home, capsys, bad) -> None:
    with pytest.raises(GenLabError, match="not valid"):
        check_run_id(bad)
    code, err = cli(
        capsys, "train", "--config", str(ROOT / "configs" / "vae_mnist.yaml"), "--in-process", f"--run-id={bad}"
    )
    assert code == 2 and "run id" in err
    for command in (["resume", "--", bad], ["cancel", "--", bad]):
        code, err = cli(capsys, *command)
        assert code == 2 and "run id" in err
    nothing_left(home)


def test_an_existing_run_id_is_refused_and_its_config_is_untouched(store, home, capsys) -> None:
    run = store.create_run(FAMILIES["vae"].tiny_config(), run_id="mine")
    before = (run.folder / "config.yaml").read_bytes()
    code, err = cli(
        capsys, "train", "--config", str(ROOT / "configs" / "vae_mnist.yaml"), "--in-process", "--run-id", "mine"
    )
    assert code == 2 and "already exists" in err
    assert (run.folder / "config.yaml").read_bytes() == before
    assert [r.id for r in store.list_runs()] == ["mine"]


def test_run_actions_in_the_wrong_state_exit_2(store, home, capsys) -> None:
    running = store.create_run(FAMILIES["vae"].tiny_config(), status="running", run_id="live")
    # A live process standing in for its worker (it waits on stdin, so it ends when the test closes it).
    worker = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "genlab"], stdin=subprocess.PIPE)
    store.own(running.id, worker.pid)
    done = store.create_run(FAMILIES["vae"].tiny_config(), run_id="done")
    store.set_status(done.id, "completed")
    cases = [
        (["runs", "delete", "live", "--yes"], "cancel it"),
        (["cancel", "done"], "only queued or running"),
        (["resume", "done"], "only interrupted, cancelled, failed or pruned"),
        (["resume", "no-such-run"], "No run with id"),
        (["runs", "show", "no-such-run"], "No run with id"),
        (["cancel", "live", "--force", "--grace", "-1"], "--grace"),
    ]
    for argv, says in cases:
        code, err = cli(capsys, *argv)
        assert code == 2 and says in err, (argv, err)
    assert store.get("live").status == "running" and running.folder.exists()
    worker.stdin.close()
    worker.wait(timeout=30)


def test_a_home_that_cannot_be_created_exits_2_with_what_to_do(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = dict(os.environ, GENLAB_HOME=str(blocker / "home"))
    proc = subprocess.run(
        [sys.executable, "-m", "genlab", "runs", "list"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "GENLAB_HOME" in proc.stderr


def test_nan_and_inf_in_configs_from_any_client_are_refused_as_non_finite() -> None:
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ConfigError, match="finite number"):
            parse_config({"family": "vae", "optim": {"lr": value}})


# -- uploads -----------------------------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def patch_member(path: Path, name: str, *, flag_bits: int | None = None, method: int | None = None) -> None:
    """Rewrite one member's headers in place (local header and central directory) to fake a zip a
    tool made: encrypted members, or a compression method Python cannot read."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    local = info.header_offset
    central = data.rfind(b"PK\x01\x02" + data[data.find(b"PK\x01\x02") + 4 : data.find(b"PK\x01\x02") + 4])
    for offset, flag_at, method_at in ((local, 6, 8),):
        if flag_bits is not None:
            struct.pack_into("<H", data, offset + flag_at, flag_bits)
        if method is not None:
            struct.pack_into("<H", data, offset + method_at, method)
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + name_len]).decode() == name:
            if flag_bits is not None:
                struct.pack_into("<H", data, pos + 8, flag_bits)
            if method is not None:
                struct.pack_into("<H", data, pos + 10, method)
        pos += 4
    del central
    path.write_bytes(bytes(data))


def test_zip_members_that_cannot_be_read_are_skipped_with_the_reason(home, tmp_path) -> None:
    good = png_bytes(16, 16)
    path = make_zip(
        tmp_path / "mixed.zip",
        {"ok1.png": good, "ok2.png": good, "secret.png": good, "odd.png": good, "bad.png": png_bytes(64, 64) * 4},
    )
    patch_member(path, "secret.png", flag_bits=0x1)
    patch_member(path, "odd.png", method=97)
    raw = bytearray(path.read_bytes())  # corrupt bad.png's deflate stream in the middle
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("bad.png")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + info.compress_size - 10):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    with zipfile.ZipFile(path, "a") as z:  # a symlink member pointing out of the upload
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
        z.writestr("../escape.png", good)
    folder, report = import_zip_upload("mixed", path)
    reasons = dict(report.skipped)
    assert len(report.accepted) == 2
    assert "encrypted" in reasons["secret.png"]
    assert "unsupported" in reasons["odd.png"]
    assert "corrupt" in reasons["bad.png"]
    assert reasons["link.png"] == "symbolic link"
    assert "escapes" in reasons["../escape.png"]
    assert sorted(p.name for p in folder.iterdir()) == ["ok1.png", "ok2.png"]
    assert list_uploads() == ["mixed"]


def test_a_zip_with_no_usable_image_names_the_upload_not_a_server_path(home, tmp_path) -> None:
    path = make_zip(tmp_path / "notes.zip", {"readme.txt": b"hello", "data.csv": b"1,2"})
    with pytest.raises(DataError) as err:
        import_zip_upload("notes", path)
    assert "'notes'" in str(err.value) and str(home) not in str(err.value) and "/" not in str(err.value).split("(")[0]
    nothing_left(home)


def test_a_zip_over_the_member_limit_or_not_a_zip_is_refused_and_leaves_nothing(home, tmp_path) -> None:
    many = make_zip(tmp_path / "many.zip", {f"{i}.png": b"x" for i in range(12)})
    with pytest.raises(DataError, match="holds 12 files; the limit is 10"):
        extract_zip(many, tmp_path / "out", max_files=10)
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a readable .zip"):
        import_zip_upload("fake", fake)
    nothing_left(home)


def test_a_failed_upload_keeps_the_older_good_one(home, tmp_path) -> None:
    import_zip_upload("faces", make_zip(tmp_path / "a.zip", {"a.png": png_bytes(16, 16)}))
    with pytest.raises(DataError):
        import_zip_upload("faces", make_zip(tmp_path / "b.zip", {"b.txt": b"no images"}))
    assert [p.name for p in (home / "uploads" / "faces").iterdir()] == ["a.png"]


def test_a_text_upload_that_is_not_text_is_refused(home, tmp_path) -> None:
    from genlab.data.api import import_text_upload

    bad = tmp_path / "blob.txt"
    bad.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(DataError):
        import_text_upload("blob", bad)
    nothing_left(home)


# -- images ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (png_bytes(4000, 4), "times longer than wide"),
        (png_bytes(4100, 1000), "longest side may be at most 4096"),
        (png_bytes(2, 2), "at least 4 pixels"),
        (b"GIF89a not really", "not an image"),
        (noise_png(64)[:2000], "corrupt or truncated"),
    ],
    ids=["strip-4000x4", "side-4100", "tiny-2x2", "not-an-image", "truncated"],
)
def test_translate_refuses_images_before_decoding_them(data, says) -> None:
    with pytest.raises(DataError, match=says):
        open_image(data)


# -- paths from the web UI ---------------------------------------------------------------------------------


def test_paths_from_the_web_ui_stay_under_uploads_or_the_data_roots(home, tmp_path, monkeypatch) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    for value in (str(outside), "/etc", "~", "../uploads/x", "configs"):
        with pytest.raises(DataError, match="outside the folders|'..' is not allowed"):
            confine_path(value, "data.name")
    confine_path("my-upload", "data.name")  # a plain upload name
    confine_path("shakespeare", "data.name")  # a built-in
    uploads = home / "uploads"
    (uploads / "faces").mkdir(parents=True)
    confine_path(str(uploads / "faces"), "data.name")
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(outside))
    confine_path(str(outside), "data.name")
    confine_path(str(outside / "sub"), "data.name")


def test_a_web_ui_run_naming_a_server_folder_is_refused_before_anything_is_written(home, store, tmp_path) -> None:
    cfg = FAMILIES["vae"].tiny_config()
    for data in ({"source": "folder", "name": "/etc"}, {"source": "zip", "name": str(ROOT / "README.md")}):
        bad = cfg.model_copy(update={"data": cfg.data.model_copy(update=data)})
        with pytest.raises(DataError, match="outside the folders"):
            jobs.start(bad, store, untrusted_paths=True)
    gpt = FAMILIES["gpt"].tiny_config()
    model = gpt.model_copy(update={"model": gpt.model.model_copy(update={"source": "pretrained", "pretrained": "/"})})
    with pytest.raises(DataError, match="model.pretrained"):
        confine_config_paths(model)
    assert store.list_runs() == []
    nothing_left(home)
