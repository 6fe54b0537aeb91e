"""API keys and the per-key rate limit, in-process: keys live hashed in the run store, a revoked key
stops working at once, status routes need no key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def keys(serve_store):
    from genlab.store.api_keys import create_key, list_keys, revoke_key

    made = [create_key(serve_store, name) for name in ("app one", "app two")]
    yield [secret for _, secret in made]
    for key in list_keys(serve_store, include_revoked=False):
        revoke_key(serve_store, key.id)


def app_for(runs, serve_store, rate: int) -> TestClient:
    from genlab.serve import create_app

    app = create_app([runs["vae"]], serve_store, require_keys=True, rate_per_minute=rate, load_in_background=False)
    return TestClient(app)


def test_keys_are_stored_as_hashes_and_a_revoked_key_stops_working(runs, serve_store, keys):
    from genlab.store.api_keys import list_keys, revoke_key

    db = serve_store.db_path.read_bytes()
    assert not any(secret.encode() in db for secret in keys), "no key is stored in clear"
    with app_for(runs, serve_store, rate=0) as c:
        info = f"/runs/{runs['vae']}"
        assert c.get("/health").status_code == 200 and c.get("/openapi.json").status_code == 200
        missing = c.get(info)
        assert missing.status_code == 401 and "API key is required" in missing.json()["detail"]
        assert missing.headers["www-authenticate"] == "Bearer"
        assert c.get(info, headers={"Authorization": "Bearer glk_wrong"}).status_code == 401
        assert c.get(info, headers={"Authorization": f"Bearer {keys[0]}"}).status_code == 200
        assert c.get(info, headers={"X-API-Key": keys[1]}).status_code == 200
        assert c.post(f"{info}/sample", json={"n": 1}, headers={"X-API-Key": keys[1]}).status_code == 200
        first = next(k for k in list_keys(serve_store) if k.name == "app one")
        revoke_key(serve_store, first.id)
        gone = c.get(info, headers={"Authorization": f"Bearer {keys[0]}"})
        assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
        assert c.get(info, headers={"X-API-Key": keys[1]}).status_code == 200


def test_the_rate_limit_counts_per_key(runs, serve_store, keys):
    with app_for(runs, serve_store, rate=2) as c:
        info = f"/runs/{runs['vae']}"
        one, two = ({"X-API-Key": k} for k in keys)
        assert [c.get(info, headers=one).status_code for _ in range(2)] == [200, 200]
        limited = c.get(info, headers=one)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "2 requests a minute" in limited.json()["detail"]
        assert c.get(info, headers=two).status_code == 200, "another key has its own budget"


def test_key_names_are_checked_and_unknown_ids_cannot_be_revoked(serve_store):
    from genlab.core.errors import GenLabError
    from genlab.store.api_keys import create_key, revoke_key

    with pytest.raises(GenLabError, match="key name"):
        create_key(serve_store, "  ")
    with pytest.raises(GenLabError, match="No active API key"):
        revoke_key(serve_store, "nope")
