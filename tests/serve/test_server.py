"""`python -m genlab serve` for real (uvicorn in a subprocess on loopback): loopback only without keys,
keys from the CLI, no key in the logs, concurrent calls to one model never mix up its state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.serve.conftest import Server


def test_without_keys_it_binds_loopback_only_says_so_and_serves_concurrent_calls_consistently(serve_home, runs):
    server = Server(serve_home, [runs["text"]], "--host", "0.0.0.0")
    try:
        server.wait_ready()
        assert httpx.get(server.url + "/docs").status_code == 200
        body = {"prompt": "ROMEO:", "max_new_tokens": 24, "seed": 11}
        url = f"{server.url}/runs/{runs['text']}/generate"
        alone = httpx.post(url, json=body, timeout=60).json()["text"]
        bodies = [body | {"seed": 11 + i % 2} for i in range(16)]
        with ThreadPoolExecutor(8) as pool:
            texts = list(pool.map(lambda b: httpx.post(url, json=b, timeout=120).json()["text"], bodies))
        assert texts[0::2] == [alone] * 8, "the same seed gives the same text however calls interleave"
        assert len(set(texts[1::2])) == 1
    finally:
        out = server.stop()
    assert "binds to 127.0.0.1 only" in out and "asked for 0.0.0.0" in out


def test_keys_made_with_the_cli_are_required_and_never_logged(serve_home, runs, capsys):
    from genlab.cli.main import main

    assert main(["serve", "keys", "add", "ci client"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("glk_")
    assert main(["serve", "keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "ci client" in listed and secret not in listed
    key_id = next(line.split()[0] for line in listed.splitlines() if line.endswith("ci client"))
    server = Server(serve_home, [runs["vae"]])
    try:
        server.wait_ready()
        info = f"{server.url}/runs/{runs['vae']}"
        assert httpx.get(info).status_code == 401
        assert httpx.get(info, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        assert main(["serve", "keys", "revoke", key_id]) == 0
        assert httpx.get(info, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    finally:
        out = server.stop()
    assert "API key required" in out and "GET /runs/" in out, out
    assert secret not in out and secret[4:20] not in out


def test_serve_cli_errors_are_clear(serve_home, runs, capsys):
    from genlab.cli.main import main

    assert main(["serve"]) == 2
    assert "--run RUN_ID" in capsys.readouterr().err
    assert main(["serve", "--run", "missing-run"]) == 2
    assert "missing-run" in capsys.readouterr().err
    assert main(["serve", "keys", "revoke", "nope"]) == 2
    assert "No active API key" in capsys.readouterr().err


def test_a_small_load_on_every_kind_of_model_has_no_errors(serve_home, runs):
    from benchmarks.bench_serve import plan_for, run_load

    kinds = {k: runs[k] for k in ("text", "chat", "cgan", "vae", "pix2pix")}
    server = Server(serve_home, list(kinds.values()), "--rate-limit", "0")
    try:
        server.wait_ready()
        result = run_load(server.url, plan_for(kinds), total=40, concurrency=8)
    finally:
        server.stop()
    assert result["errors"] == []
    assert set(result["routes"]) == {label for label, _, _ in plan_for(kinds)}
    assert result["req_per_s"] > 0 and result["p95_ms"] >= result["p50_ms"] > 0


def test_a_text_server_decodes_on_one_torch_thread_and_an_image_server_keeps_every_core(serve_store, runs):
    """A second thread only spins while a token is decoded (docs/BENCHMARKS.md); image models need the cores."""
    from genlab.serve.runner import serving_threads

    assert serving_threads(serve_store, [runs["chat"], runs["text"]]) == 1
    assert serving_threads(serve_store, [runs["chat"], runs["vae"]]) is None
