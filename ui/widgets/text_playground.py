"""Text generation and chat for text runs (GPT, RNN) through genlab.use.generate: streaming, sampling knobs, safety.

Every text shown passes the engine's gate (genlab.safety.gate) with the run's safety section: chunks appear
only once they passed, a flagged chunk ends the reply with the gate's notice, and each reply is a row
of the run's safety audit.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from genlab.core.errors import GenLabError
from genlab.safety.gate import Gate, policy_of
from genlab.store.runs import Run, RunStore
from ui.widgets import model_cache as mc
from ui.widgets.common import user_error
from ui.widgets.feedback_box import feedback_box, remember


def sampling_controls(gen: Any, key: str, module: Any) -> Any | None:
    """The sampling knobs as a SamplingSettings, or None after an inline error. They start at the model's own
    defaults (gen.sampling_for), the same as `python -m genlab generate` and the REST API use."""
    own = gen.sampling_for(module)
    with st.expander(
        f"Sampling settings (the model's defaults: temperature {own.temperature:g}, top-p {own.top_p:g})",
        icon=":material/tune:",
    ):
        c = st.columns(3)
        temperature = c[0].slider(
            "Temperature",
            0.0,
            2.0,
            float(own.temperature),
            0.05,
            key=f"{key}.temperature",
            help="Higher is more surprising; 0 always picks the most likely token.",
        )
        top_k = c[1].number_input(
            "Top-k",
            0,
            1000,
            int(own.top_k),
            key=f"{key}.top_k",
            help="Sample only among the k most likely tokens (0: off).",
        )
        top_p = c[2].slider(
            "Top-p",
            0.05,
            1.0,
            float(own.top_p),
            0.05,
            key=f"{key}.top_p",
            help="Sample among the most likely tokens whose probabilities add up to p.",
        )
        c = st.columns(3)
        rep = c[0].slider(
            "Repetition penalty",
            0.5,
            2.0,
            float(own.repetition_penalty),
            0.05,
            key=f"{key}.rep",
            help="Above 1 discourages repeating tokens already in the text.",
        )
        max_new = c[1].number_input("Max new tokens", 1, 2048, 128, key=f"{key}.max_new")
        seed = c[2].number_input(
            "Seed",
            0,
            2**31 - 1,
            value=None,
            key=f"{key}.seed",
            placeholder="random",
            help="Fix it to get the same text again; empty draws a new one each time.",
        )
        stop = st.text_input(
            "Stop at",
            key=f"{key}.stop",
            placeholder="e.g. \\n\\n",
            help="Strings that end the text, separated by '|'; \\n means a line break.",
        )
    stops = [s.replace("\\n", "\n") for s in stop.split("|") if s] if stop else []
    try:
        return gen.SamplingSettings(
            temperature=temperature,
            top_k=int(top_k),
            top_p=top_p,
            repetition_penalty=rep,
            max_new_tokens=int(max_new),
            stop=stops,
            seed=None if seed is None else int(seed),
        )
    except GenLabError as err:
        user_error(err, "Sampling settings")
        return None


def _safety_note(stream: Any) -> None:
    if stream.safety is not None:
        st.caption(
            f"{stream.n_tokens} tokens · stopped by {stream.stop_reason.replace('_', ' ')} · "
            f"screened by {stream.safety.label or stream.safety.screener}"
            + (f" · {stream.attempts} attempts" if stream.attempts > 1 else "")
        )
    if stream.action == "blocked":
        st.warning("The safety screen withheld this text (see the notice).", icon=":material/shield:")


@st.cache_resource(max_entries=2, show_spinner=False)
def _pretrained(name: str) -> Any:
    from genlab.use import generate as gen

    return gen.load_text_module(model=name)


def render_pretrained(store: RunStore, name: str) -> None:
    """Chat with an offline pretrained model directly, no run needed (`python -m genlab chat --model NAME`)."""
    try:
        with st.spinner(f"Loading {name} (once; the first time converts it, about a minute)…"):
            module = _pretrained(name)
    except (GenLabError, OSError) as err:
        user_error(err, f"{name} cannot be loaded")
        return
    st.caption(f"{name}, untouched pretrained weights · from a terminal: `python -m genlab chat --model {name}`")
    _use(store, module, None, audit_id=f"model:{name}", state_id=f"model.{name}")


def render(store: RunStore, run: Run) -> None:
    try:
        with st.spinner("Loading the model (once per checkpoint)…"):
            module, ckpt = mc.load_model(store, run.id)
    except (GenLabError, OSError) as err:
        user_error(err, "The model cannot be loaded")
        return
    ctx = int(module.context_window)
    st.caption(
        f"Checkpoint: `{ckpt.name}` · context " + (f"{ctx:,} tokens" if ctx < 10**7 else "unlimited (recurrent)")
    )
    _use(store, module, run, audit_id=run.id, state_id=f"{run.id}.{ckpt.name}")


def _use(store: RunStore, module: Any, run: Run | None, *, audit_id: str, state_id: str) -> None:
    from genlab.use import generate as gen  # the engine's text API (imports torch): only for text models

    if st.session_state.get("text.sampling_model") != state_id:  # another model: its own defaults
        for k in ("temperature", "top_k", "top_p", "rep"):
            st.session_state.pop(f"text.{k}", None)
        st.session_state["text.sampling_model"] = state_id
    can_chat = bool(getattr(module.tokenizer, "chat_template", None))
    modes = ["Chat", "Continue text"] if can_chat else ["Continue text"]
    mode = st.segmented_control("Mode", modes, default=modes[0], key="text.mode", required=True)
    settings = sampling_controls(gen, "text", module)
    if settings is None:
        return

    if mode == "Continue text":
        prompt = st.text_area(
            "Prompt",
            value="ROMEO:" if not can_chat else "",
            key="text.prompt",
            height=120,
            help="The model continues this text.",
        )
        if st.button("Generate", type="primary", icon=":material/auto_awesome:", key="text.generate"):
            if not prompt.strip():
                st.error("Write a prompt first: a few words for the model to continue.")
                return
            try:
                gate = Gate(policy_of(module), store=store, run_id=audit_id, path="playground.generate")
                stream = gen.stream(module, prompt, settings, chat=False, gate=gate)
                with st.container(border=True):
                    st.write_stream(stream)
                _safety_note(stream)
                if run is not None:
                    remember(run, prompt, stream.text)
            except GenLabError as err:
                user_error(err, "Generation failed")
        if run is not None:
            feedback_box(store, run)
        return

    # chat
    state_key = f"text.chat.{state_id}"
    system = st.text_input(
        "System prompt",
        value=gen.trained_system_prompt(module),
        key=f"text.system.{state_id}",
        placeholder="You are a helpful assistant.",
        help="Instructions for the assistant (starts as the one the run was trained with); changing it starts "
        "a new conversation.",
    )
    session = st.session_state.get(state_key)
    if session is None or session.system_prompt != system:
        try:
            gate = Gate(policy_of(module), store=store, run_id=audit_id, path="playground.chat")
            session = gen.ChatSession(module, system_prompt=system, settings=settings, gate=gate)
        except GenLabError as err:
            user_error(err)
            return
        st.session_state[state_key] = session
        st.session_state[state_key + ".shown"] = []
    session.settings = settings
    shown: list[dict[str, str]] = st.session_state[state_key + ".shown"]
    if st.button("New conversation", icon=":material/restart_alt:", key="text.reset", disabled=not shown):
        session.reset()
        shown.clear()
    for msg in shown:
        with st.chat_message(msg["role"]):
            st.markdown(msg["content"])
    if user := st.chat_input("Message the model", key="text.chat_input"):
        with st.chat_message("user"):
            st.markdown(user)
        with st.chat_message("assistant"):
            try:
                stream = session.stream(user)
                st.write_stream(stream)
            except GenLabError as err:
                user_error(err, "Generation failed")
                return
            _safety_note(stream)
        shown += [{"role": "user", "content": user}, {"role": "assistant", "content": stream.text}]
        if run is not None:
            remember(run, user, stream.text, system)
        if session.dropped_turns:
            st.caption(f"{session.dropped_turns} old message(s) no longer fit the context window and were dropped.")
    if run is not None:
        feedback_box(store, run)
