"""The screens behind genlab/safety/gate.py: Detoxify (original, unbiased, multilingual) when its official
checkpoint is installed, else alt-profanity-check; an editable block list applies to both.

Detoxify's checkpoints are GitHub release files (not downloadable on these machines) and pickles, so a
file is only ever loaded after its name passed torch hub's rule: the name carries the first hex digits
of the file's sha256 (`toxic_original-c1212f89.ckpt`) and the content must match them. Installing
accepts only the official names, so a file someone uploads can never be unpickled unless it is
byte-for-byte (to 32 bits of hash) the official one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from pathlib import Path

from genlab.core.errors import GenLabError
from genlab.core.paths import genlab_home

OFFICIAL_CHECKPOINTS = {
    "original": "toxic_original-c1212f89.ckpt",
    "unbiased": "toxic_debiased-c7548aa0.ckpt",
    "multilingual": "multilingual_debiased-0b549669.ckpt",
}
# The Hugging Face base each official checkpoint is built on (its config and tokenizer must be local).
HF_BASES = {"original": "bert-base-uncased", "unbiased": "roberta-base", "multilingual": "xlm-roberta-base"}
RELEASES = "https://github.com/unitaryai/detoxify/releases"
FALLBACK_LABEL = "profanity only: misses threats and hate without swear words"
SCREEN_THREADS = max(1, int(os.environ.get("GENLAB_SCREEN_THREADS", "1") or 1))
HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")  # torch.hub's rule (HASH_REGEX), at least 8 hex digits


class CheckpointRefused(GenLabError):
    """A checkpoint file that is not the official one: refused before anything unpickles it."""


def detoxify_help(model: str = "original") -> str:
    return (
        f"Detoxify's {model} checkpoint is not installed (it is a GitHub release file and cannot be downloaded "
        f"offline). On a machine with internet, download {OFFICIAL_CHECKPOINTS[model]} from {RELEASES}, then "
        f"install it with `python -m genlab screen --install-checkpoint FILE --model {model}` (or on the "
        f"Settings page). It also needs the {HF_BASES[model]} config and tokenizer in the Hugging Face cache, "
        "or GENLAB_DETOXIFY_HF_CONFIG set to a local folder holding them."
    )


def checkpoint_dir() -> Path:
    """Where installed checkpoints live: a torch hub checkpoints folder under GENLAB_HOME."""
    path = genlab_home() / "torch" / "hub" / "checkpoints"
    path.mkdir(parents=True, exist_ok=True)
    return path


_verified: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_checkpoint(path: str | Path) -> Path:
    """Refuse a file whose name carries no hash prefix or whose sha256 does not start with it (read as
    bytes only: nothing is unpickled). Verified files are remembered by path, size and mtime."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointRefused(f"{path} is not a file")
    match = HASH_IN_NAME.search(path.name)
    if match is None:
        raise CheckpointRefused(
            f"{path.name}: refused; a checkpoint's name must carry its sha256 prefix like the official "
            f"files ({', '.join(OFFICIAL_CHECKPOINTS.values())})"
        )
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    digest = _verified.get(key) or sha256_of(path)
    if not digest.startswith(match.group(1)):
        raise CheckpointRefused(
            f"{path.name}: refused; its sha256 starts with {digest[:8]}, not {match.group(1)} as its name says "
            "(a damaged download or a different file). Nothing was loaded."
        )
    _verified[key] = digest
    return path


def install_checkpoint(source: str | Path, model: str = "original") -> Path:
    """Check an official Detoxify checkpoint (name and hash) and copy it where the screen looks."""
    if model not in OFFICIAL_CHECKPOINTS:
        raise GenLabError(f"Unknown Detoxify model {model!r}; one of {', '.join(OFFICIAL_CHECKPOINTS)}")
    source = Path(source)
    expected = OFFICIAL_CHECKPOINTS[model]
    if source.name != expected:
        raise CheckpointRefused(
            f"{source.name}: refused; the official {model} checkpoint is named {expected} (from {RELEASES}). "
            "Other files are never loaded."
        )
    verify_checkpoint(source)
    target = checkpoint_dir() / expected
    part = target.with_suffix(".part")
    shutil.copyfile(source, part)
    verify_checkpoint(part.rename(target))
    return target


def find_checkpoint(model: str) -> Path | None:
    """The checkpoint for `model` on this machine, verified: GENLAB_DETOXIFY_CKPT (the server owner's own
    file, which must still pass the hash rule), GenLab's hub folder, then torch's own hub folder."""
    env = os.environ.get("GENLAB_DETOXIFY_CKPT")
    if env:
        return verify_checkpoint(env)
    candidates = [checkpoint_dir() / OFFICIAL_CHECKPOINTS[model]]
    try:
        import torch

        candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / OFFICIAL_CHECKPOINTS[model])
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return verify_checkpoint(path)
    return None


def block_list_path() -> Path:
    path = genlab_home() / "safety"
    path.mkdir(parents=True, exist_ok=True)
    return path / "block_list.txt"


_block_list_cache: dict[str, tuple[float, list[str]]] = {}


def read_block_list() -> list[str]:
    """The block list's words (re-read only when the file changed: it is consulted for every chunk)."""
    path = block_list_path()
    if not path.is_file():
        return []
    mtime = path.stat().st_mtime_ns
    cached = _block_list_cache.get(str(path))
    if cached is None or cached[0] != mtime:
        words = (w.strip().lower() for w in path.read_text(encoding="utf-8").splitlines())
        cached = (mtime, [w for w in words if w and not w.startswith("#")])
        _block_list_cache[str(path)] = cached
    return cached[1]


def write_block_list(words: list[str]) -> None:
    clean = sorted({w.strip().lower() for w in words if w.strip()})
    block_list_path().write_text("\n".join(clean) + ("\n" if clean else ""), encoding="utf-8")


class Screener:
    """Scores in [0, 1] per category for a batch of texts."""

    name = "none"
    label = ""
    note = ""

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        raise NotImplementedError


class DetoxifyScreener(Screener):
    name = "detoxify"
    # Detoxify's unbiased model also returns identity columns (male, female, ...): not toxicity scores.
    KEEP = ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack", "sexual_explicit")

    def __init__(self, checkpoint: Path, model: str) -> None:
        from detoxify import Detoxify

        verify_checkpoint(checkpoint)  # again right before the unpickling load, in case the file changed
        hf_config = os.environ.get("GENLAB_DETOXIFY_HF_CONFIG") or None
        self.model = Detoxify(checkpoint=str(checkpoint), huggingface_config_path=hf_config)
        self.label = f"Detoxify {model}"
        self.note = f"Detoxify {model} ({checkpoint.name})"

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        import torch

        # Screening batches are small (a chunk and its context): on a busy CPU, intra-op threads wait on
        # each other far longer than they compute (BERT-base: 0.34 s with 1 thread, 2.5 s with 2 on the
        # loaded 2-core machine; docs/BENCHMARKS.md). GENLAB_SCREEN_THREADS raises it on idle machines.
        previous = torch.get_num_threads()
        torch.set_num_threads(SCREEN_THREADS)
        try:
            raw = self.model.predict(texts)
        finally:
            torch.set_num_threads(previous)
        # Detoxify squeezes its scores: one text gives a float per class, several give lists.
        cols = {k: v if isinstance(v, list) else [v] for k, v in raw.items() if k in self.KEEP}
        return [{k: float(v[i]) for k, v in cols.items()} for i in range(len(texts))]


class ProfanityScreener(Screener):
    name = "alt-profanity-check"
    label = FALLBACK_LABEL

    def __init__(self, why: str) -> None:
        from profanity_check import predict_prob

        self._predict = _direct_profanity_model() or predict_prob
        self.note = f"{why} Screening with alt-profanity-check ({FALLBACK_LABEL})."

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        return [{"profanity": float(p)} for p in self._predict(texts)]


def _direct_profanity_model():  # noqa: ANN202 (a callable texts -> probabilities, or None)
    """alt-profanity-check's own model (TF-IDF, then five sigmoid-calibrated linear SVMs, averaged),
    computed directly: the same probabilities (a test checks), without sklearn's 3 ms of input checks per
    call. A served stream screens each chunk, so that overhead was most of a token's cost (BENCHMARKS.md).
    None when the installed package's model is not that shape (then its predict_prob is used)."""
    import numpy as np
    import profanity_check.profanity_check as pc

    model, vectorizer = getattr(pc, "model", None), getattr(pc, "vectorizer", None)
    try:
        folds = model.calibrated_classifiers_
        if model.method != "sigmoid" or list(model.classes_) != [0, 1]:
            return None
        weights = np.stack([np.ravel(f.estimator.coef_) for f in folds], axis=1)  # (features, folds)
        bias = np.array([float(np.ravel(f.estimator.intercept_)[0]) for f in folds])
        a = np.array([float(f.calibrators[0].a_) for f in folds])
        b = np.array([float(f.calibrators[0].b_) for f in folds])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None

    def predict_prob(texts: list[str]) -> np.ndarray:
        decision = vectorizer.transform(texts) @ weights + bias  # (texts, folds)
        return (1.0 / (1.0 + np.exp(a * decision + b))).mean(axis=1)  # sklearn's expit(-(a d + b))

    return predict_prob


_lock = threading.Lock()
_cache: dict[str, Screener] = {}


def get_screener(model: str = "auto") -> Screener:
    """The screen for `model` (auto: the first installed Detoxify model), built once per process."""
    with _lock:
        if model not in _cache:
            _cache[model] = _build(model)
        return _cache[model]


def _build(model: str) -> Screener:
    if model == "fallback":
        return ProfanityScreener("The fallback screen was chosen.")
    wanted = list(OFFICIAL_CHECKPOINTS) if model == "auto" else [model]
    why = detoxify_help(wanted[0])
    for name in wanted:
        try:
            ckpt = find_checkpoint(name)
        except CheckpointRefused as err:
            why = f"Detoxify was not loaded: {err}"
            break
        if ckpt is None:
            continue
        try:
            return DetoxifyScreener(ckpt, name)
        except Exception as err:  # noqa: BLE001 - e.g. its Hugging Face config is missing offline
            why = (
                f"Detoxify {name} could not load ({type(err).__name__}: {str(err)[:300]}); it needs the "
                f"{HF_BASES[name]} config and tokenizer in the Hugging Face cache or GENLAB_DETOXIFY_HF_CONFIG."
            )
            break
    return ProfanityScreener(why)


def reset_screeners() -> None:
    """Forget the built screens, so the next screen looks again (after a checkpoint is installed)."""
    with _lock:
        _cache.clear()
