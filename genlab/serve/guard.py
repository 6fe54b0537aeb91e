"""The gate every request passes before any route runs: key first, then the body, then the work.

One pure ASGI middleware wraps the whole app, so a route added later (the OpenAI-compatible ones
included) is covered without doing anything: tests/test_bad_inputs.py walks every route of the app and
checks that an unauthenticated request gets a 401 before its body is read.

In order, for every HTTP request:
1. a key in the URL (`?api_key=...`) is refused: keys go in headers only (URLs end up in logs);
2. unless the path is public (liveness, readiness, the API docs), the key is checked from the headers;
   a client address with too many failed attempts in the last minute gets a 429 before any check;
3. the per-key rate limit;
4. the body is limited while it is read (Content-Length first, then the bytes as they arrive): JSON
   bodies to MAX_JSON_BYTES, uploads to MAX_UPLOAD_BYTES plus the form's own overhead.
The caller's identity ("local" without keys, the key id with keys, "anonymous" on a public path
without a valid key) is left in the ASGI scope for the routes (`caller`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import anyio
from fastapi import HTTPException, Request
from starlette.responses import JSONResponse

from genlab.serve.rate_limit import RateLimiter
from genlab.serve.schemas import MAX_JSON_BYTES, MAX_UPLOAD_BYTES
from genlab.store.api_keys import verify_key

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
KEY_PARAMS = frozenset({"api_key", "apikey", "api-key", "key", "token", "access_token", "auth", "authorization"})
FAILED_AUTH_PER_MINUTE = 20  # per client address; a real client with a typo needs a handful
MAX_KEY_CHARS = 256
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file
SCOPE_KEY = "genlab.caller"

MISSING = "An API key is required: send 'Authorization: Bearer <key>' (or 'X-API-Key: <key>')"
INVALID = "This API key is not valid or was revoked"
IN_URL = (
    "API keys are accepted only in the 'Authorization: Bearer <key>' or 'X-API-Key' header, never in the URL "
    "(URLs end up in logs and browser history); remove it from the address and revoke it if it was real"
)


def body_limit(headers: dict[str, str]) -> int:
    """The most bytes a request of this content type may send."""
    if headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return MAX_UPLOAD_BYTES + UPLOAD_OVERHEAD
    return MAX_JSON_BYTES


def too_large(limit: int) -> str:
    return f"The request body is larger than the limit of {limit / (1024 * 1024):.0f} MB for this route"


def secret_from(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-api-key", "").strip()


def key_in_url(query_string: bytes) -> bool:
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    except ValueError:
        return False
    return any(name.strip().lower() in KEY_PARAMS for name, _ in pairs)


def caller(request: Request) -> str:
    """Who is calling, as the guard decided: 'local', 'anonymous' or a key id."""
    return str(request.scope.get(SCOPE_KEY, "anonymous"))


class AuthFirst:
    """The ASGI middleware described above; `state` is the server's ServerState (store, require_keys,
    limiter)."""

    def __init__(self, app: ASGIApp, state: Any, failed_per_minute: int = FAILED_AUTH_PER_MINUTE) -> None:
        self.app = app
        self.state = state
        self.failures = RateLimiter(failed_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if key_in_url(scope.get("query_string", b"")):
            await self._refuse(scope, receive, send, 401, IN_URL)
            return
        public = scope.get("path", "") in PUBLIC_PATHS
        who = await self._identify(scope, headers, public)
        if isinstance(who, tuple):
            await self._refuse(scope, receive, send, *who)
            return
        scope[SCOPE_KEY] = who
        if not public:
            wait = self.state.limiter.allow(who)
            if wait > 0:
                limit = self.state.limiter.per_minute
                msg = f"Rate limit of {limit} requests a minute reached; retry in {wait:.1f} s"
                await self._refuse(scope, receive, send, 429, msg, {"Retry-After": str(max(1, round(wait)))})
                return
        limit = body_limit(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, 413, too_large(limit))
            return
        await self.app(scope, _counted(receive, limit), send)

    async def _identify(
        self, scope: Scope, headers: dict[str, str], public: bool
    ) -> str | tuple[int, str, dict[str, str]]:
        """The caller's identity, or (status, message, headers) to refuse with."""
        if not self.state.require_keys:
            return "local"
        secret = secret_from(headers)
        if public and not secret:
            return "anonymous"
        address = (scope.get("client") or ("unknown", 0))[0]
        bearer = {"WWW-Authenticate": "Bearer"}
        wait = self.failures.waiting(address)
        if wait > 0:
            if public:
                return "anonymous"
            msg = f"Too many failed API key attempts from this address; retry in {wait:.0f} s"
            return 429, msg, {"Retry-After": str(max(1, round(wait)))}
        key = None
        if secret and len(secret) <= MAX_KEY_CHARS:
            key = await anyio.to_thread.run_sync(verify_key, self.state.store, secret)
        if key is not None:
            return key.id
        self.failures.allow(address)
        if public:
            return "anonymous"
        return 401, (INVALID if secret else MISSING), bearer

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer without reading the body (the server closes the connection if one was sent)."""
        await JSONResponse({"detail": detail}, status_code=status, headers=headers)(scope, receive, send)


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive` that stops a body at `limit` bytes, whatever Content-Length said (or if it said nothing)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, too_large(limit))
        return message

    return wrapped
