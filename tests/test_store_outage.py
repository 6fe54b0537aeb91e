"""Faults of a team store: the PostgreSQL server restarts (down for a while) while a run trains, and the
database cannot be reached when a command starts.

The restart test starts its own PostgreSQL cluster (initdb in a temp folder, a free port), so stopping it
disturbs nobody else's database; it is the same server binary a team runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from genlab.store.runs import RunStore

_VERSIONS = sorted(
    Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
)
PG_BIN = _VERSIONS[-1] if _VERSIONS else Path("/usr/lib/postgresql/15/bin")  # the newest installed server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture
def own_cluster():
    """A private PostgreSQL cluster: (url, start, stop). Its folder is outside pytest's (root-only)
    tmp folder, so the postgres user can reach it."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries not found in {PG_BIN}: install postgresql (Debian's package)")
    tmp_path = Path(tempfile.mkdtemp(prefix="genlab_pg_"))
    data = tmp_path / "pgdata"
    data.mkdir()
    sock = tmp_path / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp_path, "postgres")
        for p in (data, sock):
            shutil.chown(p, "postgres")
    subprocess.run(
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "genlab", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = tmp_path / "pg.log"

    def ctl(*args: str) -> None:
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", *args]),
            check=True,
            capture_output=True,
        )

    ctl("start")
    url = f"postgresql+psycopg://genlab@127.0.0.1:{port}/postgres"
    yield url, (lambda: ctl("start")), (lambda: ctl("stop", "-m", "fast"))
    subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "stop", "-m", "immediate"]), capture_output=True
    )
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_database_restart_while_training_loses_and_doubles_nothing(own_cluster, home: Path, monkeypatch) -> None:
    url, start, stop = own_cluster
    monkeypatch.setenv("GENLAB_DB_URL", url)
    store = RunStore(home)
    from genlab.core.registry import FAMILIES

    run = store.create_run(FAMILIES["vae"].tiny_config(), status="running")
    assert store.own(run.id, 4242)
    # the "trainer": logs and beats every step through the outage, then says how many steps it took
    trainer = textwrap.dedent(f"""
        import sys
        from genlab.store.runs import RunStore
        s = RunStore()
        step = 0
        for line in sys.stdin:  # one step per line the test sends: no clocks involved
            s.log_metrics({run.id!r}, step, {{"train/loss": 1.0 / (step + 1), "lr": 0.1}})
            owned, cancel = s.beat({run.id!r}, 4242, step=step)
            assert owned and not cancel
            print(step, s.pending_metric_rows, flush=True)
            step += 1
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", trainer], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )

    def step() -> tuple[int, int]:
        proc.stdin.write("\n")
        proc.stdin.flush()
        a, b = proc.stdout.readline().split()
        return int(a), int(b)

    for _ in range(5):
        assert step()[1] == 0
    stop()  # the server goes away
    during = [step() for _ in range(20)]
    assert during[-1][1] == 40  # 20 steps x 2 metrics kept in memory, training went on
    start()
    after = step()
    assert after[1] == 0  # written as soon as the database took a write again
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    fresh = RunStore(home)
    series = fresh.metric_series(run.id, "train/loss")
    assert [s for s, _ in series] == list(range(26))  # every step once: nothing lost, nothing doubled
    assert len(fresh.metrics(run.id)) == 52 and fresh.get(run.id).step == 25


def test_the_cli_says_clearly_when_the_database_cannot_be_reached(home: Path) -> None:
    env = dict(os.environ, GENLAB_HOME=str(home), GENLAB_DB_URL="postgresql+psycopg://genlab:pw@127.0.0.1:1/x")
    out = subprocess.run([sys.executable, "-m", "genlab", "runs", "list"], env=env, capture_output=True, text=True)
    assert out.returncode == 2
    assert "cannot be reached" in out.stderr and "Traceback" not in out.stderr and "pw@" not in out.stderr
