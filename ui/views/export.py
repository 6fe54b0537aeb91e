"""Export: a finished run to TFLite, ONNX, TF SavedModel or a Hugging Face folder, with proof of parity.

Conversions run in a background thread (genlab.export.background); this script only reads their progress.
The table shows every export of the run (size, latency, quality per variant); files download here, and
"try it" runs an exported file through its own runtime beside PyTorch.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from genlab.core.errors import GenLabError
from genlab.core.registry import FAMILIES
from genlab.export import background
from genlab.export.options import FORMAT_TITLES, FORMAT_VARIANTS, VARIANT_TITLES
from genlab.store.runs import RunNotFound
from ui.widgets.common import get_store, page_path, user_error
from ui.widgets.images import show_grid
from ui.widgets.run_picker import pick_run

store = get_store()
st.title("Export")
st.caption(
    "Every network the run's family exports is converted and checked on fixed inputs against PyTorch: "
    "fp32 files must match within 1e-4 or are marked failed."
)

run = pick_run(
    store,
    "Finished run",
    key="export.run",
    status="completed",
    default=st.query_params.get("run"),
    help="Only completed runs export: their final weights are known.",
)
if run is None:
    st.info("No completed runs yet. Train one, then come back here to export it.", icon=":material/info:")
    st.page_link(page_path("home"), label="Go to the presets", icon=":material/home:")
    st.stop()
st.query_params["run"] = run.id
family = FAMILIES.get(run.family)
if family is None or not family.can("Exportable"):
    st.warning(f"{run.family} runs name no exportable networks.", icon=":material/block:")
    st.stop()

# -- what to export: formats the family's spec cannot hold are refused here, before any work -------------

offered = [f for f in FORMAT_VARIANTS if f != "hf" or family.can("HuggingFaceExportable")]
if "hf" not in offered:
    st.caption("Hugging Face folder: language models only.")
left, right = st.columns(2)
formats = left.multiselect(
    "Formats", offered, default=["tflite"], format_func=lambda f: FORMAT_TITLES[f], key="export.formats"
)
all_variants = sorted({v for f in formats for v in FORMAT_VARIANTS[f]}, key=list(VARIANT_TITLES).index)
variants = right.multiselect(
    "Variants",
    all_variants,
    default=[v for v in ("fp32",) if v in all_variants],
    format_func=lambda v: VARIANT_TITLES[v],
    key="export.variants",
    help="Quantised variants apply where a format offers them (TFLite: all; ONNX: dynamic).",
)
requests = [(f, None if v == "fp32" else v) for f in formats for v in variants if v in FORMAT_VARIANTS[f]]
skipped = [f"{f} {v}" for f in formats for v in variants if v not in FORMAT_VARIANTS[f]]
if skipped:
    st.caption("Not offered, skipped: " + ", ".join(skipped))
cli = " && ".join(
    f"python -m genlab export {run.id} --format {f}" + (f" --quantize {q}" if q else "") for f, q in requests
)
if cli:
    st.code(cli, language="bash")

job_key = f"export.job.{run.id}"
job = background.get(st.session_state.get(job_key, ""))
busy = job is not None and not job.done
if st.button("Export", type="primary", disabled=not requests or busy, key="export.go"):
    job = background.start(store.home, run.id, requests)
    st.session_state[job_key] = job.id
    busy = True


@st.fragment(run_every=1.0 if busy else None)
def progress() -> None:
    current = background.get(st.session_state.get(job_key, ""))
    if current is None:
        return
    with st.status("Exporting…" if not current.done else "Export finished", expanded=not current.done) as box:
        for line in current.messages[-12:]:
            st.write(line)
        if current.done:
            box.update(state="error" if current.errors else "complete")
    for err in current.errors:
        st.error(err, icon=":material/error:")
    if current.done and st.session_state.get(f"{job_key}.shown") != current.id:
        st.session_state[f"{job_key}.shown"] = current.id
        st.rerun()  # the table below now holds the new exports


progress()

# -- the trade-off table: every export of the run ---------------------------------------------------------

exports = store.artifacts(run.id, kind="export")
latest: dict[str, dict] = {a["name"]: a for a in exports}
if not latest:
    st.info("This run has no exports yet.", icon=":material/info:")
    st.stop()


def _quality(meta: dict) -> str:
    parts = []
    for name, o in (meta.get("outputs") or {}).items():
        if "psnr_db" in o:
            parts.append(f"{name} PSNR {o['psnr_db']:.1f} dB")
        if "top1_agreement" in o:
            parts.append(f"{name} top-1 {o['top1_agreement']:.1%}")
        if "perplexity_export" in o:
            parts.append(f"ppl {o['perplexity_eager']:.2f} -> {o['perplexity_export']:.2f}")
    decode = meta.get("decode") or {}
    if "match" in decode:
        parts.append("greedy text " + ("matches" if decode["match"] else "differs"))
    return "; ".join(parts)


rows = []
for _, a in sorted(latest.items()):
    m = a["meta"]
    rows.append(
        {
            "net": m.get("net"),
            "format": m.get("format"),
            "variant": m.get("variant"),
            "parity": "passed" if m.get("passed") else "FAILED",
            "max |diff|": m.get("max_abs_diff"),
            "quality": _quality(m),
            "size KiB": (m.get("size_bytes") or 0) / 1024,
            "export ms": m.get("export_ms"),
            "eager ms": m.get("eager_ms"),
            "x eager": m.get("speedup_vs_eager"),
        }
    )
st.subheader("Parity and trade-offs")
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    column_config={
        "max |diff|": st.column_config.NumberColumn(format="%.2e"),
        "size KiB": st.column_config.NumberColumn(format="%.1f"),
        "export ms": st.column_config.NumberColumn(format="%.3f"),
        "eager ms": st.column_config.NumberColumn(format="%.3f"),
        "x eager": st.column_config.NumberColumn(format="%.2f"),
    },
)
st.caption("Latency: median ms per batch-1 call, one CPU thread each side, timed interleaved with PyTorch eager.")

# -- downloads ---------------------------------------------------------------------------------------------


def _file_bytes(path: Path) -> bytes:
    """A file as it is; a folder (SavedModel, Hugging Face) as a zip made in memory."""
    if path.is_file():
        return path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(path.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(path.parent))
    return buf.getvalue()


st.subheader("Download")
names = sorted(latest)
chosen = st.selectbox("Export", names, key="export.download")
art = latest[chosen]
path = Path(art["path"])
folder = store.run_folder(run.id)
if not path.exists():
    st.warning("The file is gone from the run folder; export again.", icon=":material/warning:")
else:
    c1, c2 = st.columns(2)
    c1.download_button(
        f"{path.name}{'' if path.is_file() else '.zip'}",
        data=_file_bytes(path),
        file_name=path.name if path.is_file() else f"{path.name}.zip",
        key="export.dl.file",
        icon=":material/download:",
    )
    meta_path = folder / art["meta"].get("metadata", "")
    if meta_path.is_file():
        c2.download_button(meta_path.name, data=meta_path.read_bytes(), file_name=meta_path.name, key="export.dl.meta")

# -- try it: the exported file through its own runtime, beside PyTorch ----------------------------------

st.subheader("Try it")
runnable = [n for n in names if latest[n]["meta"].get("format") in ("tflite", "onnx", "savedmodel")]
if runnable:
    pick = st.selectbox("Exported file", runnable, key="export.try", help="TFLite files run in the LiteRT interpreter.")
    seed = st.number_input("Seed", 0, 1_000_000, 0, key="export.seed")
    prompt = None
    if family.kind == "text":
        prompt = st.text_input("Prompt", key="export.prompt") or None
    if st.button("Generate with both", key="export.try.go"):
        try:
            from genlab.export.try_it import try_export  # loads torch and the runtime: only when asked

            with st.spinner("Running the export and PyTorch…"):
                result = try_export(store, run.id, pick, int(seed), prompt)
        except (GenLabError, RunNotFound, OSError) as err:
            user_error(err, "The export cannot run")
        else:
            a, b = st.columns(2)
            if result["kind"] == "image":
                with a:
                    show_grid(result["export"], caption=f"exported · {result['export_ms']:.2f} ms")
                with b:
                    show_grid(result["eager"], caption=f"PyTorch · {result['eager_ms']:.2f} ms")
                st.caption(f"max |diff| {result['max_abs_diff']:.2e}")
            else:
                a.markdown(f"**exported** · {result['export_ms']:.0f} ms")
                a.text(result["prompt"] + result["export"])
                b.markdown(f"**PyTorch** · {result['eager_ms']:.0f} ms")
                b.text(result["prompt"] + result["eager"])
                st.caption("Same tokens." if result["same_tokens"] else "The sampled tokens differ.")
