"""Settings section: API keys of the REST server (`python -m genlab serve`): create (shown once), list,
revoke. Only hashes are stored; the server needs a key from any machine but this one."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.store.api_keys import create_key, list_keys, revoke_key
from genlab.store.runs import RunStore
from ui.widgets.common import user_error

NEW, ERROR = "settings.api_key_new_secret", "settings.api_key_error"


def _create(store: RunStore) -> None:
    try:
        key, secret = create_key(store, st.session_state.get("settings.api_key_name", ""))
    except GenLabError as err:
        st.session_state[ERROR] = err
    else:
        st.session_state[NEW] = (key.id, key.name, secret)


def api_keys_panel(store: RunStore) -> None:
    st.subheader("REST API keys")
    st.caption(
        "Keys for `python -m genlab serve --run RUN_ID`. Without an active key the server answers only on this "
        "machine (127.0.0.1). A key is shown once, when it is made; only its hash is kept."
    )
    with st.form("settings.api_key_new", clear_on_submit=True):
        st.text_input("What the new key is for", placeholder="mobile app", key="settings.api_key_name")
        # Enter in the name box and the button both submit the form, and both run this callback: the key
        # is made once, before the form clears the name, and stays on screen until it is dismissed.
        st.form_submit_button("Create key", icon=":material/key:", on_click=_create, args=(store,))
    if err := st.session_state.pop(ERROR, None):
        user_error(err)
    if made := st.session_state.get(NEW):
        key_id, key_name, secret = made
        st.success(f"Key {key_id} ({key_name}) created. Copy it now: it is not shown again.")
        st.code(secret, language=None)
        st.button("I have copied it", key="settings.api_key_done", on_click=lambda: st.session_state.pop(NEW, None))
    keys = list_keys(store)
    if not keys:
        st.info("No API keys yet.", icon=":material/key_off:")
        return
    for k in keys:
        c = st.columns([2, 3, 2, 2])
        c[0].markdown(f"`{k.id}`")
        c[1].markdown(k.name)
        c[2].markdown(dt.datetime.fromtimestamp(k.created_at).strftime("%Y-%m-%d %H:%M"))
        if k.active:
            if c[3].button("Revoke", key=f"settings.api_key_revoke.{k.id}", icon=":material/block:"):
                revoke_key(store, k.id)
                st.rerun()
        else:
            c[3].markdown("revoked")
