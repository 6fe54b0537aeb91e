"""`generate`, `chat` and `export-hf`: use a trained text run (gpt/rnn) or the offline SmolLM2.

The Playground's CLI twin. Every text passes genlab.safety.gate's gate before it is printed: streaming
releases sentence-sized chunks only once they passed, and a flagged chunk ends the text with a notice.
The verdict and the screen that decided are printed after the text (to stderr, so stdout stays the
text itself); every output is a row of the run's safety audit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from genlab.core.errors import GenLabError
from genlab.core.registry import get_family, names_that_can
from genlab.share import wandb_link

SCREEN_NOTE = (
    "Every text is screened: by Detoxify when its checkpoint is installed, else by alt-profanity-check, which "
    "catches profanity only (the note saying so is printed once; `python -m genlab screen --help` says how to "
    "install Detoxify)."
)


def _sampling_args(p: argparse.ArgumentParser, temperature: float, max_new: int) -> None:
    p.add_argument(
        "run_id",
        nargs="?",
        help=f"a {names_that_can('TextGenerator')} run (see: python -m genlab runs list --family NAME)",
    )
    p.add_argument("--model", help="instead of a run: smollm2 (offline), a Hugging Face id or a local model folder")
    p.add_argument(
        "--checkpoint",
        choices=["best", "last"],
        help="which checkpoint of the run (default last: the model the HF export holds; best: lowest val loss)",
    )
    # Decoding defaults are the model's own (the same in the app, the REST API and exports): a chat run
    # uses its base model's recommended settings (SmolLM2: temperature 0.2, top-p 0.9), a from-scratch run
    # its sample settings (temperature 0.8, top-k 50).
    own = " (default: the model's own; SmolLM2 {}, from-scratch runs {})"
    p.add_argument("--temperature", type=float, help="0 is greedy" + own.format("0.2", "0.8"))
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens (0: off)" + own.format(50, 50))
    p.add_argument("--top-p", type=float, help="nucleus sampling mass (1: off)" + own.format("0.9", 1))
    p.add_argument("--repetition-penalty", type=float, help="> 1 discourages repeats (1: off)" + own.format(1, 1))
    p.add_argument(
        "--max-new-tokens", type=int, default=max_new, help=f"tokens to generate at most (default {max_new})"
    )
    p.add_argument(
        "--stop", action="append", default=[], metavar="TEXT", help="stop when this text appears (repeatable)"
    )
    p.add_argument("--seed", type=int, help="seed for reproducible sampling")
    p.add_argument(
        "--system", default=None, help="system prompt (chat models; default: the one the run was trained with)"
    )
    safety_args(p)


def safety_args(p: argparse.ArgumentParser) -> None:
    """The screening knobs shared by generate, chat and screen (defaults: the run's safety section)."""
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="[CATEGORY=]VALUE",
        help="flag at this score (repeatable; a bare value sets every category; 0 flags everything)",
    )
    p.add_argument(
        "--safety-model",
        choices=["auto", "original", "unbiased", "multilingual", "fallback"],
        help="which screen (default: the run's safety.model, else auto)",
    )
    p.add_argument(
        "--action", choices=["block", "mask", "annotate"], help="what happens to flagged text (default: block)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help=f"generate text with a {names_that_can('TextGenerator', '/')} run or the offline SmolLM2",
        description="Continue a prompt (or answer it, for chat runs) and stream the text. Example: "
        "python -m genlab generate RUN_ID --prompt 'ROMEO:' --temperature 0.8 --max-new-tokens 200. " + SCREEN_NOTE,
    )
    _sampling_args(p, 0.8, 200)
    p.add_argument("--prompt", required=True, help="the text to continue, or the question for a chat model")
    p.add_argument(
        "--chat",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="format the prompt with the chat template (default: yes for chat runs)",
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON object (text, safety, settings) instead of streaming"
    )
    p.add_argument(
        "--no-stream", action="store_true", help="print the text only once it is screened (flagged text is withheld)"
    )
    p.set_defaults(handler=_generate)

    p = sub.add_parser(
        "chat",
        help="multi-turn chat with a chat run or the offline SmolLM2",
        description="Chat in the terminal (an empty line or Ctrl-D ends). --message sends messages "
        "without a terminal. Old turns are dropped when the context window is full. Example: "
        "python -m genlab chat --model smollm2 --system 'Answer briefly.'",
    )
    _sampling_args(p, 0.7, 200)
    p.add_argument(
        "--message", action="append", default=[], help="send this message instead of reading the terminal (repeatable)"
    )
    p.set_defaults(handler=_chat)

    p = sub.add_parser(
        "export-hf",
        help="write a text run as a Hugging Face folder (LoRA merged)",
        description="Save runs/<id>/exports/hf (or --out): safetensors weights, tokenizer and generation "
        "config, loadable with plain transformers. LoRA adapters are merged into the weights.",
    )
    p.add_argument("run_id", help=f"a {names_that_can('HuggingFaceExportable')} run")
    p.add_argument("--out", help="output folder (default: the run's exports/hf)")
    p.add_argument("--checkpoint", choices=["best", "last"], help="which checkpoint (default last)")
    p.set_defaults(handler=_export)


def _settings(args: argparse.Namespace, module):
    from genlab.use.generate import sampling_for

    return sampling_for(
        module,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        max_new_tokens=args.max_new_tokens,
        stop=list(args.stop),
        seed=args.seed,
    )


def _module(args: argparse.Namespace):
    from genlab.use.generate import load_text_module

    return load_text_module(args.run_id, args.model, args.checkpoint)


def _gate(args: argparse.Namespace, module, path: str):
    """The gate with the run's safety section and the command's overrides; audited in the run store
    (under `model:<name>` for a pretrained model)."""
    from genlab.safety.gate import Gate, policy_of, with_overrides
    from genlab.store.runs import RunStore

    policy = with_overrides(policy_of(module), args.threshold, model=args.safety_model, action=args.action)
    return Gate(policy, store=RunStore(), run_id=args.run_id or f"model:{args.model}", path=path)


def _first_time(note: str) -> bool:
    """True once per GENLAB_HOME for a screen note (installing Detoxify): said once, not after every answer."""
    import hashlib

    from genlab.core.paths import genlab_home

    seen = genlab_home() / "cli_notes_seen.txt"
    digest = hashlib.sha1(note.encode()).hexdigest()[:16]
    known = seen.read_text(encoding="utf-8").split() if seen.is_file() else []
    if digest in known:
        return False
    seen.write_text("\n".join([*known, digest]) + "\n", encoding="utf-8")
    return True


def _verdict(stream) -> None:
    if stream.safety is not None:
        print(f"[{stream.safety.summary()}]", file=sys.stderr)
        if stream.safety.note and _first_time(stream.safety.note):
            print(f"[screen note, shown once: {stream.safety.note}]", file=sys.stderr)


def _system(args: argparse.Namespace, module) -> str:
    from genlab.use.generate import trained_system_prompt

    return trained_system_prompt(module) if args.system is None else args.system


def _generate(args: argparse.Namespace) -> int:
    from genlab.use.generate import generate, stream

    module = _module(args)
    settings = _settings(args, module)
    system = _system(args, module)
    gate = _gate(args, module, "cli.generate")
    if args.json:
        result = generate(module, args.prompt, settings, chat=args.chat, system_prompt=system, gate=gate)
        print(json.dumps({**result.to_dict(), "settings": settings.to_dict()}, ensure_ascii=False, indent=2))
        return 0
    st = stream(module, args.prompt, settings, chat=args.chat, system_prompt=system, gate=gate)
    chat = module.is_chat if args.chat is None else args.chat
    if not args.no_stream:
        # streaming: screened chunks appear as they pass; the verdict follows the text
        if not chat:
            print(args.prompt, end="", flush=True)
        for piece in st:
            print(piece, end="", flush=True)
        print()
    else:
        st.consume()
        print(("" if chat else args.prompt) + st.text)
    _verdict(st)
    return 0


def _chat(args: argparse.Namespace) -> int:
    from genlab.use.generate import ChatSession

    module = _module(args)
    session = ChatSession(
        module,
        system_prompt=_system(args, module),
        settings=_settings(args, module),
        gate=_gate(args, module, "cli.chat"),
    )
    messages = iter(args.message) if args.message else None
    interactive = messages is None
    if interactive:
        print("Chat started (empty line or Ctrl-D to end).", file=sys.stderr)
    while True:
        if messages is not None:
            user = next(messages, None)
            if user is None:
                break
            print(f"you> {user}")
        else:
            try:
                user = input("you> ")
            except EOFError:
                break
            if not user.strip():
                break
        print("bot> ", end="", flush=True)
        st = session.stream(user)
        for piece in st:
            print(piece, end="", flush=True)
        print()
        _verdict(st)
        if session.dropped_turns:
            print(f"[context: {session.dropped_turns} old message(s) dropped to fit the window]", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from genlab.runner.checkpoints import load_module
    from genlab.store.runs import RunStore

    store = RunStore()
    run = store.get(args.run_id)
    if not get_family(run.family).can("HuggingFaceExportable"):
        able = names_that_can("HuggingFaceExportable")
        raise GenLabError(f"Run {args.run_id} is a {run.family} run; export-hf needs a {able} run")
    module = load_module(store, args.run_id, args.checkpoint)
    out = module.export_hf(args.out or store.run_folder(args.run_id) / "exports" / "hf")
    store.add_artifact(args.run_id, "export", out, name="hf")
    if wandb_link.log_export(store, args.run_id, out, "hf", api_key=os.environ.get("WANDB_API_KEY")):
        print("logged to W&B as an export artifact of the run's checkpoint")
    print(out)
    return 0
