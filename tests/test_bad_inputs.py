"""The bad-input catalogue: uploads, configs, images, CLI arguments, run ids and paths a user (or a
visitor of the web app) can get wrong. Each gives a clear message naming what to change (exit code 2 in
the CLI), never a traceback, and leaves nothing behind: no run row or folder, no upload, no temp file.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
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


def billion_laughs() -> str:
    """Nine levels of nine aliases: 363 bytes that expand to 9**9 strings."""
    text = "family: vae\nlol: &a [" + ", ".join(['"lol"'] * 9) + "]\n"
    previous = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text


def test_a_billion_laughs_config_is_refused_in_bounded_memory_and_output(home, tmp_path) -> None:
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(billion_laughs(), encoding="utf-8")
    # The CLI in a fresh process that reports its own peak memory (VmHWM, which exec resets) on stdout.
    script = (
        "import sys; from genlab.cli.main import main; code = main(['train', '--config', sys.argv[1]]); "
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]); sys.exit(code)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(bomb)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, GENLAB_HOME=str(home)),
    )
    err = proc.stderr.read(64 * 1024)  # at most this much is read, whatever it writes
    peak_mb = int(proc.stdout.read().split()[-1]) / 1024
    assert proc.wait(timeout=120) == 2 and b"aliases" in err and b"Traceback" not in err, err[:500]
    assert len(err) < 2000, "the message quotes no expanded value"
    assert peak_mb < 500, f"peak {peak_mb:.0f} MB"
    nothing_left(home)


@pytest.mark.parametrize(
    ("text", "overrides", "says"),
    [
        ("family: vae\nmodel: " + "[" * 5000 + "]" * 5000 + "\n", [], "nested more than"),
        ("family: vae\n", ["model.latent_dim=" + "[" * 5000 + "]" * 5000], "nested more than"),
        ("- family\n- vae\n", ["optim.lr=0.1"], "holds a list, not a mapping"),
        ("just words\n", ["optim.lr=0.1"], "holds a str, not a mapping"),
        ("family: vae\n", ["name=" + "x" * 3_000_000], "--set name is larger than"),
        ("family: vae\n" + "# padding\n" * 200_000, [], "larger than 1024 KB"),
    ],
    ids=["deep-file", "deep-set", "top-list", "top-string", "huge-value", "huge-file"],
)
def test_configs_that_would_cost_a_traceback_or_memory_exit_2(home, tmp_path, capsys, text, overrides, says) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    argv = ["train", "--config", str(path)]
    for item in overrides:
        argv += ["--set", item]
    code, err = cli(capsys, *argv)
    assert code == 2 and says in err, err[:500]
    assert len(err) < 3000, "errors quote at most a short excerpt of a value"
    nothing_left(home)


def test_a_config_that_names_a_folder_or_a_device_says_so(home, tmp_path, capsys) -> None:
    code, err = cli(capsys, "train", "--config", str(tmp_path))
    assert code == 2 and "is a folder" in err
    code, err = cli(capsys, "train", "--config", "/dev/zero")
    assert code == 2 and "not a regular file" in err


def test_the_train_page_upload_and_the_cli_share_the_bounded_parser() -> None:
    from genlab.core.safe_yaml import load_yaml

    with pytest.raises(ConfigError, match="upload.yaml expands to more than|upload.yaml uses more than"):
        load_yaml(billion_laughs(), "upload.yaml")
    assert load_yaml("a: &x {b: 1}\nc: *x\n") == {"a": {"b": 1}, "c": {"b": 1}}, "small aliases still work"


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


def read_only_cli(home: Path, *argv: str) -> subprocess.CompletedProcess:
    """The CLI on a home it cannot write: a read-only mount of it (as root, whom permission bits do not
    stop) or the permission bits themselves (as anyone else)."""
    env = dict(os.environ, GENLAB_HOME=str(home))
    env.pop("GENLAB_DB_URL", None)
    command = [sys.executable, "-m", "genlab", *argv]
    if os.geteuid() == 0:
        mount = f'mount --bind {home} {home} && mount -o remount,bind,ro {home} && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", mount, "sh", *command]
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    modes = {p: p.stat().st_mode for p in [home, *home.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def test_read_only_commands_work_on_a_read_only_home_and_writes_say_why_not(store, home) -> None:
    store.create_run(FAMILIES["vae"].tiny_config(), run_id="kept", status="completed")
    store.log_metrics("kept", 5, {"val/loss": 1.25})
    store.close()

    listed = read_only_cli(home, "runs", "list")
    assert listed.returncode == 0, listed.stderr
    assert "kept" in listed.stdout and "val/loss=1.25" in listed.stdout
    shown = read_only_cli(home, "runs", "show", "kept")
    assert shown.returncode == 0 and "val/loss=1.25" in shown.stdout, shown.stderr

    deleted = read_only_cli(home, "runs", "delete", "kept", "--yes")
    assert deleted.returncode == 2 and "Traceback" not in deleted.stderr
    assert "cannot be written" in deleted.stderr and "GENLAB_HOME" in deleted.stderr
    assert store.get("kept").status == "completed", "the refused delete lost nothing"


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


# -- the REST server: auth before work, bounded bodies, no 5xx -----------------------------------------------


def asgi_call(app, method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b"", client="10.0.0.1"):
    """Call the app as uvicorn would, with a body that is never needed: (status, whether it was read)."""
    import anyio

    read: list[bool] = []
    sent: list[dict] = []

    async def receive():
        read.append(True)
        return {"type": "http.request", "body": b'{"prompt": "x", "n": 1}', "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"23"), *headers],
        "client": (client, 40000),
        "server": ("127.0.0.1", 8000),
    }
    anyio.run(app, scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), bool(read)


def route_table(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app answers, routers included by include_router too (FastAPI
    keeps those behind a lazy wrapper), checked against the OpenAPI document so that none is missed."""
    out = set()
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for r in contexts:
            for method in getattr(r, "methods", None) or {"GET"}:
                out.add((method, r.path))
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= out, documented - out
    return sorted(out)


def test_every_route_refuses_an_unauthenticated_request_before_reading_its_body(store) -> None:
    """Walks every route the app has (those added later included): without a valid key in a header, each
    answers 401 and never reads the body; only liveness, readiness and the docs are public."""
    from genlab.serve import create_app
    from genlab.serve.guard import PUBLIC_PATHS
    from genlab.store.api_keys import create_key

    run = store.create_run(FAMILIES["rnn"].tiny_config())
    store.set_status(run.id, "completed")  # servable, though its checkpoint is missing (it fails to load)
    _, secret = create_key(store, "probe")
    app = create_app([run.id], store, require_keys=True, load_in_background=False)
    routes = route_table(app)
    public = {(m, p) for m, p in routes if p in PUBLIC_PATHS}
    assert {p for _, p in public} == set(PUBLIC_PATHS) and {m for m, _ in public} <= {"GET", "HEAD"}
    protected = [(m, p) for m, p in routes if p not in PUBLIC_PATHS]
    assert len(protected) >= 9, protected
    attempts = [
        ([], b""),
        ([(b"authorization", b"Bearer glk_wrong")], b""),
        ([(b"x-api-key", b"x" * 5000)], b""),
        ([], b"api_key=" + secret.encode()),
    ]
    for n, (method, template) in enumerate(protected):
        path = re.sub(r"\{run_id[^}]*\}", run.id, template)
        path = re.sub(r"\{[^}]+\}", "x", path)
        for i, (headers, query) in enumerate(attempts):
            status, read = asgi_call(app, method, path, headers, query, client=f"10.0.{n}.{i}")
            assert (status, read) == (401, False), (method, template, headers, query)
    status, read = asgi_call(app, "GET", "/runs", [(b"x-api-key", secret.encode())])
    assert status == 200, "the same probe with the key in a header goes through"


def test_ready_tells_anonymous_callers_only_ready_or_not(store) -> None:
    from fastapi.testclient import TestClient

    from genlab.serve import create_app
    from genlab.store.api_keys import create_key

    run = store.create_run(FAMILIES["rnn"].tiny_config())
    store.set_status(run.id, "completed")
    _, secret = create_key(store, "probe")
    with TestClient(create_app([run.id], store, require_keys=True, load_in_background=False)) as c:
        anonymous = c.get("/ready")
        assert anonymous.status_code == 503 and anonymous.json() == {"ready": False}
        assert c.get("/ready", headers={"X-API-Key": "glk_wrong"}).json() == {"ready": False}
        full = c.get("/ready", headers={"X-API-Key": secret}).json()
        assert full["failed"][run.id].startswith("GenLabError: ") and len(full["failed"][run.id]) < 260


def test_wrong_key_guesses_are_limited_per_client_address(store) -> None:
    from genlab.serve import create_app
    from genlab.serve.guard import FAILED_AUTH_PER_MINUTE
    from genlab.store.api_keys import create_key

    run = store.create_run(FAMILIES["rnn"].tiny_config())
    store.set_status(run.id, "completed")
    _, secret = create_key(store, "probe")
    app = create_app([run.id], store, require_keys=True, load_in_background=False)
    wrong = [(b"authorization", b"Bearer glk_guess")]
    codes = [asgi_call(app, "GET", "/runs", wrong, client="10.9.9.9")[0] for _ in range(FAILED_AUTH_PER_MINUTE + 10)]
    assert codes[:FAILED_AUTH_PER_MINUTE] == [401] * FAILED_AUTH_PER_MINUTE
    assert set(codes[FAILED_AUTH_PER_MINUTE:]) == {429}
    assert asgi_call(app, "GET", "/runs", [(b"x-api-key", secret.encode())], client="10.9.9.9")[0] == 429
    assert asgi_call(app, "GET", "/runs", [(b"x-api-key", secret.encode())], client="10.9.9.10")[0] == 200


@pytest.fixture(scope="module")
def rest(tmp_path_factory, shared_cache):
    """A real `python -m genlab serve` (uvicorn on loopback) with an API key, on a tiny trained char-RNN."""
    from genlab.store.api_keys import create_key
    from genlab.store.runs import RunStore
    from tests.serve.conftest import Server, tiny
    from tests.ui.conftest import train_in_process

    home = tmp_path_factory.mktemp("rest_home")
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_HOME", str(home))
        store = RunStore(home)
        run = train_in_process(store, tiny("rnn"))
        assert run.status == "completed", run.error
        _, secret = create_key(store, "probe")
        store.close()
        server = Server(home, [run.id], "--rate-limit", "0")
        try:
            server.wait_ready()
            yield server, run.id, secret
        finally:
            server.stop()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def raw_post(port: int, path: str, head: dict[str, str], body: bytes, total: int | None = None) -> tuple[int, bytes]:
    """POST over a plain socket: send the headers (Content-Length `total`), then `body`, then read the reply
    (a server that answers before reading the body is not made to swallow it first)."""
    import socket

    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {total or len(body)}"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        with contextlib.suppress(OSError):
            sock.sendall(body)
        reply = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in reply or len(reply) < reply.index(b"\r\n\r\n") + 4 + _length(reply):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
    status = int(reply.split(b" ", 2)[1]) if reply else 0
    return status, reply.split(b"\r\n\r\n", 1)[-1]


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_rest_refuses_big_or_broken_bodies_without_a_key_before_reading_them(rest) -> None:
    server, run_id, secret = rest
    before = peak_rss_mb(server.proc.pid)
    url = f"/runs/{run_id}/generate"
    head = {"Content-Type": "application/json"}
    big = b'{"prompt": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    status, body = raw_post(server.port, url, head, big[: 1024 * 1024], total=len(big))
    assert status == 401 and b"API key is required" in body
    status, body = raw_post(server.port, url, head, b'{"prompt": ')
    assert status == 401, "malformed JSON without a key is a 401, not the parser's 422"
    form = {"Content-Type": "multipart/form-data; boundary=xx"}
    status, _ = raw_post(server.port, f"/runs/{run_id}/encode", form, b"--xx\r\n", total=60 * 1024 * 1024)
    assert status == 401
    keyed = head | {"Authorization": f"Bearer {secret}"}
    status, body = raw_post(server.port, url, keyed, big[: 1024 * 1024], total=len(big))
    assert status == 413 and b"larger than the limit" in body
    chunked = keyed | {"Transfer-Encoding": "chunked"}
    del chunked["Content-Type"]
    with httpx.Client(timeout=60) as c:
        r = c.post(
            server.url + url, headers=chunked, content=iter([big[i : i + 2**20] for i in range(0, 6 * 2**20, 2**20)])
        )
    assert r.status_code == 413, "a body without Content-Length is cut at the limit while it is read"
    assert peak_rss_mb(server.proc.pid) - before < 40, "no body was held in memory"


def test_rest_bad_values_are_422_with_a_short_reply_and_never_a_500(rest) -> None:
    server, run_id, secret = rest
    url = f"{server.url}/runs/{run_id}/generate"
    key = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    raw_bodies = [
        b'{"prompt": "a", "max_new_tokens": 1e309}',
        b'{"prompt": "a", "temperature": NaN}',
        b'{"prompt": "a", "top_p": Infinity}',
        b'{"prompt": "a", "temperature": -Infinity}',
        b'{"prompt": "\\ud800"}',
        b'{"prompt": "' + b"x" * (3 * 1024 * 1024) + b'"}',
    ]
    with httpx.Client(timeout=120) as c:
        for raw in raw_bodies:
            r = c.post(url, content=raw, headers=key)
            assert r.status_code == 422, (raw[:60], r.status_code, r.text[:300])
            assert len(r.content) < 2000, "the reply quotes at most a short excerpt"
        surrogate = c.post(url, content=raw_bodies[4], headers=key).json()["detail"][0]["msg"]
        assert "lone surrogate" in surrogate
        tiny_t = c.post(url, json={"prompt": "ROMEO:", "temperature": 1e-320, "max_new_tokens": 8}, headers=key)
        assert tiny_t.status_code == 200, tiny_t.text
        greedy = c.post(url, json={"prompt": "ROMEO:", "temperature": 0, "max_new_tokens": 8}, headers=key)
        assert tiny_t.json()["text"] == greedy.json()["text"], "a temperature near 0 is greedy, not a crash"


def test_a_key_in_the_url_is_refused_and_never_logged(rest) -> None:
    server, run_id, secret = rest
    r = httpx.get(f"{server.url}/runs/{run_id}", params={"api_key": secret})
    assert r.status_code == 401 and "never in the URL" in r.json()["detail"]
    assert httpx.get(f"{server.url}/runs/{run_id}", headers={"X-API-Key": secret}).status_code == 200
    anonymous = httpx.get(f"{server.url}/ready")
    assert anonymous.json() == {"ready": True}
    log = server.stop()
    assert secret not in log and secret[4:20] not in log
    assert "GET /runs/" in log, "the access log still says what was asked"
    assert "Traceback" not in log and " 500" not in log


# -- the web app, wherever it is started ---------------------------------------------------------------------


def test_the_app_started_from_another_folder_listens_on_loopback_only(tmp_path) -> None:
    import psutil

    from tests.serve.conftest import free_port

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".streamlit").mkdir(parents=True)
    (elsewhere / ".streamlit" / "config.toml").write_text('[server]\naddress = "0.0.0.0"\n', encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"), "--server.port", str(port)],
        cwd=elsewhere,
        env=env | {"GENLAB_HOME": str(tmp_path / "home")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def listening() -> list[str]:
            assert proc.poll() is None, proc.stdout.read()
            conns = psutil.Process(proc.pid).net_connections(kind="inet")
            return [c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN and c.laddr.port == port]

        from tests.helpers import wait_for

        addresses = wait_for(listening, timeout=120, what="streamlit to listen")
        assert set(addresses) == {"127.0.0.1"}, "the folder's own config cannot open it to the network"
        assert httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_app_listening_beyond_loopback_without_a_login_stays_closed(home) -> None:
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    before = config.get_option("server.address")
    try:
        for address in ("0.0.0.0", ""):
            config.set_option("server.address", address)
            at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=90).run()
            assert [t.value for t in at.title] == ["GenLab is closed"]
            assert "refuses to listen on" in at.error[0].value and "[auth]" in at.error[0].value
        config.set_option("server.address", "127.0.0.1")
        at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=90).run()
        assert "GenLab is closed" not in [t.value for t in at.title]
    finally:
        config.set_option("server.address", before)


def test_one_over_long_member_name_is_skipped_and_a_skipped_nested_zip_is_not_stored(home, tmp_path) -> None:
    inner = make_zip(tmp_path / "inner.zip", {"x.png": png_bytes(16, 16)}).read_bytes()
    path = make_zip(
        tmp_path / "mixed.zip",
        {"ok.png": png_bytes(16, 16), "n" * 300 + ".png": png_bytes(16, 16), "more.zip": inner},
    )
    folder, report = import_zip_upload("mixed", path)
    reasons = dict(report.skipped)
    assert any(r == "file name too long" for r in reasons.values()), reasons
    assert "more.zip" in reasons
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["ok.png"], "skipped means not stored"


def test_every_request_body_refuses_non_finite_numbers_and_lone_surrogates() -> None:
    """The OpenAI-shaped bodies too: every *Request model of the server derives from schemas.Screened."""
    import inspect

    from pydantic import BaseModel, ValidationError

    from genlab.serve import openai_schemas, schemas

    requests = [
        cls
        for module in (schemas, openai_schemas)
        for name, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseModel) and name.endswith("Request")
    ]
    assert len(requests) >= 8
    assert all(issubclass(cls, schemas.Screened) for cls in requests), requests
    for cls, body in (
        (schemas.GenerateRequest, {"prompt": "a"}),
        (openai_schemas.CompletionRequest, {"model": "m", "prompt": "a"}),
    ):
        for bad in ({"temperature": float("nan")}, {"top_p": float("inf")}, {"prompt": "\ud800"}):
            with pytest.raises(ValidationError):
                cls.model_validate(body | bad)
