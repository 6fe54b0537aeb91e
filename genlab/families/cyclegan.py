"""CycleGAN family config (unpaired image-to-image translation) and the shared two-domain data section.

Torch-free: the UI form and `runs list` read these classes without importing torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from genlab.config import OptimConfig, RunConfig, Section

PairedSource = Literal["builtin", "folder", "zip"]
PairedLayout = Literal["two_folders", "side_by_side"]
BUILTIN_PAIRS = ("emoji", "edges2emoji")


class PairedDataConfig(Section):
    """Two image domains A and B, paired (pix2pix) or unpaired (CycleGAN)."""

    source: PairedSource = Field(
        "builtin", description="Where the two domains come from: a built-in pair, folders or .zip uploads"
    )
    name: str = Field(
        "emoji",
        min_length=1,
        max_length=1000,
        description="Built-in pair (emoji: Twemoji->OpenMoji, edges2emoji: edges->Twemoji), or one folder/zip holding A/ and B/ (or trainA/ and trainB/) or side-by-side images",
    )
    path_a: str = Field(
        "",
        max_length=1000,
        description="Domain A as its own folder, zip or upload name (overrides name; needs path_b too)",
    )
    path_b: str = Field(
        "", max_length=1000, description="Domain B as its own folder, zip or upload name (used with path_a)"
    )
    layout: PairedLayout = Field(
        "two_folders",
        description="two_folders: A and B in separate folders (pairs matched by file name); side_by_side: each file is A|B joined left-right (the pix2pix layout)",
    )
    paired: bool = Field(
        False,
        description="Train on aligned pairs (required by pix2pix); off draws B independently of A, true pairs are still kept for evaluation",
    )
    image_size: Literal[16, 32, 64, 128, 256] = Field(
        32, description="Side of the square images the model sees, in pixels"
    )
    load_size: int = Field(
        0,
        ge=0,
        le=512,
        description="Resize to this side, then randomly crop image_size (0: no crop; e.g. 36 for 32 px)",
    )
    hflip: bool = Field(
        True, description="Randomly mirror training images left-right (the same flip for both images of a pair)"
    )
    color_mode_a: Literal["auto", "grey", "rgb"] = Field(
        "auto", description="Colour of domain A; auto keeps the majority mode of its images"
    )
    color_mode_b: Literal["auto", "grey", "rgb"] = Field(
        "auto", description="Colour of domain B; auto keeps the majority mode of its images"
    )
    edge_sigma: float = Field(
        1.0, ge=0.1, le=10.0, description="edges2emoji: Canny smoothing (higher: fewer, longer edges)"
    )
    val_fraction: float = Field(
        0.05, ge=0.0, le=0.5, description="Share of the images (pairs) held out for validation (seeded split)"
    )
    batch_size: int = Field(4, ge=1, le=1024, description="Images per domain per training step")
    max_items: int | None = Field(
        None,
        ge=8,
        le=1_000_000,
        description="Use at most this many images per domain (quick experiments); empty uses all",
    )
    min_images: int = Field(8, ge=2, le=100_000, description="Refuse to train on fewer images per domain than this")
    num_workers: int = Field(
        0, ge=0, le=32, description="Background data-loading processes (0 loads in the training process)"
    )

    @model_validator(mode="after")
    def _check(self) -> PairedDataConfig:
        if self.load_size and self.load_size < self.image_size:
            raise ValueError(f"data.load_size ({self.load_size}) must be 0 or at least image_size ({self.image_size})")
        if bool(self.path_a) != bool(self.path_b):
            raise ValueError("data.path_a and data.path_b go together: give both domains or neither")
        if self.source == "builtin" and self.name not in BUILTIN_PAIRS:
            raise ValueError(
                f"data.name: unknown built-in pair {self.name!r}; choose one of: {', '.join(BUILTIN_PAIRS)}"
            )
        return self


def check_patchgan(image_size: int, disc_layers: int) -> None:
    """A PatchGAN with n strided layers needs image_size / 2**n >= 3 to output at least one patch."""
    if image_size / 2**disc_layers < 3:
        fit = max(1, (image_size // 3).bit_length() - 1)
        raise ValueError(f"model.disc_layers {disc_layers} is too deep for {image_size} px images; use at most {fit}")


class CycleGANModelConfig(Section):
    gen_width: int = Field(
        32, ge=4, le=256, description="Channels of the generators' first conv layer (ngf; 64 in the paper)"
    )
    gen_blocks: Literal[2, 3, 4, 6, 9] = Field(
        6, description="ResNet blocks in each generator (6 for 128 px, 9 for 256 px in the paper)"
    )
    disc_width: int = Field(
        32, ge=4, le=256, description="Channels of the discriminators' first conv layer (ndf; 64 in the paper)"
    )
    disc_layers: int = Field(
        3, ge=1, le=5, description="Strided layers of the PatchGAN (3 gives the 70x70 receptive field)"
    )
    lambda_cycle: float = Field(
        10.0, ge=0.0, le=1000.0, description="Weight of the cycle-consistency L1 loss (A->B->A and B->A->B)"
    )
    lambda_identity: float = Field(
        0.5,
        ge=0.0,
        le=10.0,
        description="Identity loss weight, relative to lambda_cycle (only when A and B have the same channels)",
    )
    pool_size: int = Field(50, ge=0, le=1000, description="Past fakes kept to train the discriminators on (0: no pool)")
    lr_d: float | None = Field(None, gt=0.0, le=1.0, description="Discriminator learning rate (empty: optim.lr)")
    constant_lr_fraction: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of training at constant learning rate before it decays linearly to zero"
    )
    eval_fid: bool = Field(False, description="Also compute FID/KID per direction at validation (slow on a CPU)")
    fid_features: Literal["inception", "pixels"] = Field(
        "inception",
        description="FID/KID feature space: Inception-v3 (standard; slow on a CPU) or 16x16 pixels (fast, only comparable between GenLab runs)",
    )
    n_panel: int = Field(
        6, ge=1, le=32, description="Validation images in each sample panel (input | translation | reconstruction)"
    )


class CycleGANRunConfig(RunConfig):
    family: Literal["cyclegan"] = Field("cyclegan", description="Model family")
    data: PairedDataConfig = Field(default_factory=PairedDataConfig, description="Two image domains")
    model: CycleGANModelConfig = Field(default_factory=CycleGANModelConfig, description="CycleGAN networks and losses")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(lr=2e-4, beta1=0.5),
        description="Optimizer (Adam 2e-4, beta1 0.5 in the paper); the schedule is constant-then-linear-decay",
    )

    @model_validator(mode="after")
    def _check_nets(self) -> CycleGANRunConfig:
        check_patchgan(self.data.image_size, self.model.disc_layers)
        return self
