"""Optional team login with Streamlit's built-in OIDC (st.login), switched on by secrets.

When `.streamlit/secrets.toml` has an `[auth]` section (redirect_uri, cookie_secret and a provider's
client_id/client_secret/server_metadata_url), every page asks for a login first. An optional
`allowed_emails = ["a@x.org", ...]` or `allowed_domains = ["x.org"]` list under `[genlab]` narrows who
may use the app. Without `[auth]`, the app is open (a single user on their own machine). See docs/APP.md.
"""

from __future__ import annotations

from typing import Any

import streamlit as st


def _secrets_section(name: str) -> dict[str, Any]:
    try:
        section = st.secrets.get(name)
    except (FileNotFoundError, KeyError, AttributeError, Exception):  # no secrets.toml at all
        return {}
    return dict(section) if section else {}


def auth_configured() -> bool:
    return bool(_secrets_section("auth"))


def require_login() -> None:
    """Stop the page with a login button until the user is signed in (only when [auth] is configured)."""
    if not auth_configured():
        return
    if not st.user.is_logged_in:
        st.title("GenLab")
        st.write("Sign in with your team account to train and use models.")
        st.button("Log in", on_click=st.login, type="primary", icon=":material/login:")
        st.stop()
    rules = _secrets_section("genlab")
    emails = [e.lower() for e in rules.get("allowed_emails", [])]
    domains = [d.lower().lstrip("@") for d in rules.get("allowed_domains", [])]
    email = str(st.user.get("email", "")).lower()
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
