"""Routes of the transformer views: attention maps (any AttentionViewer run), fill-mask (MaskFiller) and
classification (TextClassifier). Filled-in words are model output: they pass the run's safety gate."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import Field

from genlab.safety.gate import Gate, policy_of
from genlab.serve.deps import ERRORS, needs, served, state_of
from genlab.serve.model_pool import ServedModel
from genlab.serve.schemas import MAX_PROMPT_CHARS, Body
from genlab.use.attention import attention_report

router = APIRouter(tags=["transformers"], responses=ERRORS)


class AttentionRequest(Body):
    text: str = Field(..., min_length=1, max_length=MAX_PROMPT_CHARS, description="The text to look at")
    kind: str | None = Field(None, description="self, encoder, decoder or cross; default the first kind")
    layer: int | None = Field(None, ge=0, description="One layer (default all)")
    head: int | None = Field(None, ge=0, description="One head of that layer (default all)")


class FillMaskRequest(Body):
    text: str = Field(..., min_length=1, max_length=MAX_PROMPT_CHARS, description="A text with [MASK] in it")
    top_k: int = Field(5, ge=1, le=50, description="How many words")


class ClassifyRequest(Body):
    text: str = Field(..., min_length=1, max_length=MAX_PROMPT_CHARS, description="The text to classify")


@router.post("/runs/{run_id}/attention")
def attention(body: AttentionRequest, model: ServedModel = Depends(served)) -> dict[str, Any]:
    """Attention weights per kind, layer and head on the text, with the head summary."""
    needs(model, "AttentionViewer", "show attention")
    if body.head is not None and body.layer is None:
        raise HTTPException(400, "head needs layer")
    with model.lock:
        report = attention_report(model.module, body.text)
    return report.to_dict(body.kind, body.layer, body.head)


@router.post("/runs/{run_id}/fill-mask")
def fill_mask(body: FillMaskRequest, request: Request, model: ServedModel = Depends(served)) -> dict[str, Any]:
    """The top-k words for the first [MASK] with their probabilities; words the gate withholds are dropped."""
    needs(model, "MaskFiller", "fill masks")
    with model.lock:
        fills = model.module.fill_mask(body.text, body.top_k)
    gate = Gate(policy_of(model.module), store=state_of(request).store, run_id=model.run.id, path="api.fill_mask")
    verdicts = gate.release_many({str(i): f["sequence"] for i, f in enumerate(fills)})
    kept = [f for i, f in enumerate(fills) if verdicts[str(i)].action != "blocked"]
    return {"fills": kept, "withheld": len(fills) - len(kept)}


@router.post("/runs/{run_id}/classify")
def classify(body: ClassifyRequest, model: ServedModel = Depends(served)) -> dict[str, Any]:
    """A probability for every class the run was trained on."""
    needs(model, "TextClassifier", "classify text")
    with model.lock:
        scores = model.module.classify(body.text)
    return {"scores": scores, "label": max(scores, key=lambda k: scores[k])}
