"""Optional team login with Streamlit's built-in OIDC (st.login), switched on by secrets.

When `.streamlit/secrets.toml` has an `[auth]` section (redirect_uri, cookie_secret and a provider's
client_id/client_secret/server_metadata_url), every page asks for a login first. An optional
`allowed_emails = ["a@x.org", ...]` or `allowed_domains = ["x.org"]` list under `[genlab]` narrows who
may use the app. Without `[auth]`, the app is open (a single user on their own machine). See docs/APP.md.

Login fails closed: a secrets.toml that cannot be read, an `[auth]` section missing a required key, or
signs that a login was meant (allow-lists, `require_login`, auth keys under a misspelt section) without
a working `[auth]`, stop the app with a message instead of opening it to anyone. With allow-lists, the
provider must say the email is verified (`email_verified`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from genlab.core.exposure import APP_FIX, is_loopback, open_door_message

AUTH_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SECRETS_FILES = (
    Path(".streamlit") / "secrets.toml",
    Path.home() / ".streamlit" / "secrets.toml",
    Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml",
)


class AuthSettingsError(Exception):
    """The login settings are present but unusable; the app must not open without them."""


def _all_secrets() -> dict[str, Any]:
    try:
        return {k: (dict(v) if hasattr(v, "keys") else v) for k, v in st.secrets.to_dict().items()}
    except Exception as err:  # noqa: BLE001 - Streamlit raises several types for a missing or broken file
        if any(p.is_file() for p in SECRETS_FILES):
            raise AuthSettingsError(
                f".streamlit/secrets.toml cannot be read ({type(err).__name__}); fix the file"
            ) from None
        return {}


def _secrets_section(name: str) -> dict[str, Any]:
    try:
        section = _all_secrets().get(name)
    except AuthSettingsError:
        return {}
    return dict(section) if isinstance(section, dict) else {}


def check_auth_settings() -> dict[str, Any] | None:
    """The [auth] section when login is configured and complete; None when the app is meant to be open.

    Raises AuthSettingsError when login was meant but cannot work.
    """
    secrets = _all_secrets()
    auth = secrets.get("auth")
    rules = secrets.get("genlab") if isinstance(secrets.get("genlab"), dict) else {}
    if isinstance(auth, dict) and auth:
        missing = [k for k in AUTH_KEYS if not auth.get(k)]
        providers = [auth] + [v for v in auth.values() if isinstance(v, dict)]
        if not any(all(p.get(k) for k in PROVIDER_KEYS) for p in providers):
            missing.append(" / ".join(PROVIDER_KEYS) + " (directly under [auth] or in a provider section)")
        if missing:
            raise AuthSettingsError(f"the [auth] section in .streamlit/secrets.toml lacks {', '.join(missing)}")
        return auth
    meant = bool(rules.get("require_login") or rules.get("allowed_emails") or rules.get("allowed_domains"))
    stray = [
        name
        for name, value in secrets.items()
        if name != "auth" and isinstance(value, dict) and any(k in value for k in (*AUTH_KEYS, "client_id"))
    ]
    if meant or stray:
        where = f" (login keys found under [{stray[0]}]: is it a misspelt [auth]?)" if stray else ""
        raise AuthSettingsError(f"a login is required but .streamlit/secrets.toml has no [auth] section{where}")
    return None


def auth_configured() -> bool:
    try:
        return check_auth_settings() is not None
    except AuthSettingsError:
        return True  # configured, but broken: require_login stops the app


def require_login() -> None:
    """Stop the page with a login button until the user is signed in (only when [auth] is configured);
    stop it with the reason when the login settings are broken, or when there is no login and the server
    listens beyond loopback (never fall back to an open app)."""
    try:
        if check_auth_settings() is None:
            address = st.get_option("server.address")
            if not is_loopback(address):
                st.title("GenLab is closed")
                st.error(open_door_message("GenLab", address, APP_FIX))
                st.stop()
            return
    except AuthSettingsError as err:
        st.title("GenLab is closed")
        st.error(
            f"The login is misconfigured: {err}. The app stays closed until the admin fixes it "
            "(see docs/APP.md, 'Running it for a team behind a login')."
        )
        st.stop()
    if not st.user.is_logged_in:
        st.title("GenLab")
        st.write("Sign in with your team account to train and use models.")
        st.button("Log in", on_click=st.login, type="primary", icon=":material/login:")
        st.stop()
    rules = _secrets_section("genlab")
    emails = [e.lower() for e in rules.get("allowed_emails", [])]
    domains = [d.lower().lstrip("@") for d in rules.get("allowed_domains", [])]
    email = str(st.user.get("email", "")).lower()
    if (emails or domains) and st.user.get("email_verified") is not True and not rules.get("accept_unverified_email"):
        st.error(
            f"{email or 'This account'}: your identity provider does not say this email address is verified, so "
            "it cannot be matched against the allowed list. Verify it with your provider, or ask the admin."
        )
        st.button("Log out", on_click=st.logout)
        st.stop()
    if (emails or domains) and email not in emails and email.rsplit("@", 1)[-1] not in domains:
        st.error(
            f"{email or 'This account'} is not allowed to use this GenLab. Ask the admin to add it to "
            "[genlab] allowed_emails in .streamlit/secrets.toml, or log in with another account."
        )
        st.button("Log out", on_click=st.logout)
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as {st.user.get('name') or email}")
        st.button("Log out", on_click=st.logout, icon=":material/logout:", type="tertiary")
