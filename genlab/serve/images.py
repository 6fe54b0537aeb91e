"""Image routes: sample (PNG grid or base64 PNGs, a class for conditional models), decode latents,
encode an upload (VAE) and translate an upload (a direction, or a multi-domain run's target domain). Uploads are size-checked by bytes,
then by the pixel count in the image header, before anything is decoded."""

from __future__ import annotations

import base64
import io
from typing import Any

import anyio
import numpy as np
import torch
from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile
from fastapi.responses import Response
from PIL import Image

from genlab.core.errors import GenLabError
from genlab.core.imaging import make_grid
from genlab.serve.deps import ERRORS, needs, served
from genlab.serve.model_pool import ServedModel
from genlab.serve.schemas import MAX_UPLOAD_BYTES, DecodeRequest, EncodeOut, ImagesOut, SampleRequest
from genlab.use import sample as sampling
from genlab.use.translate import MAX_PIXELS, domains_of, header_size, translate_image

router = APIRouter(tags=["images"], responses=ERRORS)
PNG_DOC = {200: {"content": {"image/png": {}}, "description": "PNG (format png) or JSON (format base64)"}}


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _reply(images: np.ndarray, fmt: str) -> Any:
    """(N, C, H, W) in [0, 1] -> one PNG grid, or each image as base64 PNG."""
    t = torch.from_numpy(images)
    if fmt == "png":
        grid = make_grid(t, nrow=max(1, int(np.ceil(np.sqrt(len(t))))), padding=2 if len(t) > 1 else 0)
        return Response(_png(grid), media_type="image/png")
    arr = (np.clip(images, 0, 1) * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)  # (N, H, W, C)
    pngs = [Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a) for a in arr]
    return ImagesOut(
        images=[base64.b64encode(_png(p)).decode("ascii") for p in pngs], width=arr.shape[2], height=arr.shape[1]
    )


def _label(model: ServedModel, label: int | str | None) -> int | None:
    if label is None or isinstance(label, int):
        return label
    names = sampling.class_names(model.module)
    if label not in names:
        raise HTTPException(400, f"class {label!r} is not one of this model's classes: {', '.join(names) or 'none'}")
    return names.index(label)


def _locked(model: ServedModel, work: Any) -> Any:
    """Run `work` in a worker thread holding the model's lock (the event loop stays free)."""
    with model.lock:
        return work()


async def _upload(file: UploadFile) -> bytes:
    """The upload's bytes, refused when too many bytes or (from the header alone) too many pixels."""
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"The upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    w, h = header_size(data)
    if w * h > MAX_PIXELS:
        raise HTTPException(
            413, f"The image is {w}x{h} = {w * h / 1e6:.1f} megapixels; the limit is {MAX_PIXELS / 1e6:.0f}"
        )
    return data


@router.post("/runs/{run_id}/sample", responses=PNG_DOC, response_model=ImagesOut)
def sample(body: SampleRequest, model: ServedModel = Depends(served)) -> Any:
    """Draw new images; the same seed (and class) gives the same images. Denoising models also take a
    sampler, steps and a guidance scale; a value the model cannot use is a 422 with `genlab sample`'s words."""
    needs(model, "ImageSampler", "draw images")
    label = _label(model, body.label)
    options = {"sampler": body.sampler, "steps": body.steps, "guidance_scale": body.guidance_scale}
    if any(v is not None for v in options.values()):
        try:
            sampling.check_sampling(model.module, options)
        except GenLabError as err:
            raise HTTPException(422, str(err)) from None
    with model.lock:
        images = sampling.sample(
            model.module, body.n, seed=body.seed, labels=label, options=options, truncation=body.truncation
        )
    return _reply(images, body.format)


@router.post("/runs/{run_id}/decode", responses=PNG_DOC, response_model=ImagesOut)
def decode(body: DecodeRequest, model: ServedModel = Depends(served)) -> Any:
    """Images from latent codes (from /encode, or your own)."""
    needs(model, "LatentWalker", "decode latent codes")
    label = _label(model, body.label)
    with model.lock:
        images = sampling.decode(model.module, body.latents, labels=label)
    return _reply(images, body.format)


@router.post("/runs/{run_id}/encode")
async def encode(file: UploadFile = File(...), model: ServedModel = Depends(served)) -> EncodeOut:
    """An image's latent code (resized to the model's size)."""
    needs(model, "Encoder", "encode images")
    data = await _upload(file)
    z = await anyio.to_thread.run_sync(_locked, model, lambda: sampling.encode_image(model.module, data))
    return EncodeOut(latent=[float(v) for v in z], latent_dim=len(z))


def _target(model: ServedModel, direction: str | None, domain: str | None) -> str | None:
    """The direction or target domain to translate to; 422 when it does not fit the model."""
    domains = domains_of(model.module)
    if domain is not None:
        if not domains:
            raise HTTPException(422, f"Run {model.run.id} has no target domains; use direction=AtoB or BtoA")
        if domain not in domains:
            raise HTTPException(422, f"unknown target domain {domain!r}: this run knows {', '.join(domains)}")
        return domain
    if direction is not None and domains:
        raise HTTPException(422, f"Run {model.run.id} translates into domains ({', '.join(domains)}): use domain=NAME")
    return direction


@router.post("/runs/{run_id}/translate", responses={200: {"content": {"image/png": {}}}})
async def translate(
    file: UploadFile = File(...),
    direction: str | None = Query(None, pattern="^(AtoB|BtoA)$", description="Default: the model's first"),
    domain: str | None = Query(
        None, max_length=200, description="Multi-domain runs: the target domain's name (default: the first)"
    ),
    model: ServedModel = Depends(served),
) -> Response:
    """Translate an uploaded image; the PNG has the upload's width and height."""
    needs(model, "Translator", "translate images")
    target = _target(model, direction, domain)
    data = await _upload(file)
    out = await anyio.to_thread.run_sync(_locked, model, lambda: translate_image(model.module, data, target))
    return Response(_png(out), media_type="image/png")
