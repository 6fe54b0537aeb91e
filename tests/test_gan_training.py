"""The conditional GAN learns to draw the class it is asked for (scored by the cached real-data classifier)."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from genlab.core.parsing import parse_config
from genlab.metrics.classifier import cached_classifier, predict
from genlab.runner.train import build_trainer, prepare


@pytest.mark.slow
def test_cgan_output_class_follows_the_label_after_a_little_training(home) -> None:
    cfg = parse_config(
        {
            "family": "cgan",
            "seed": 3,
            "data": {"name": "digits", "image_size": 16, "batch_size": 32, "val_fraction": 0.05},
            "model": {
                "latent_dim": 16,
                "embed_dim": 16,
                "g_width": 16,
                "d_width": 16,
                "d_conditioning": "projection",
                "label_smoothing": 0.1,
            },
            "optim": {"lr_g": 5e-4, "lr_d": 2e-4, "beta1": 0.5},
            "trainer": {"max_epochs": 6, "limit_val_batches": 1, "val_every_n_epochs": 6, "accelerator": "cpu"},
            "logging": {"sample_every_n_steps": 0},
            "metrics": {"features": "pixels", "fid_samples": 100, "fid_every_n_epochs": 6},
        }
    )
    L.seed_everything(cfg.seed, verbose=False)
    family, dm, module = prepare(cfg)
    trainer = build_trainer(cfg, family, None, None, manual_optimization=True)
    trainer.fit(module, datamodule=dm)

    net, real_acc = cached_classifier(dm.images, dm.labels, 10)
    assert real_acc > 0.85
    labels = torch.arange(10).repeat_interleave(20)
    images = module.generate(len(labels), labels=labels, seed=0)
    accuracy = float((predict(net, images) == labels).float().mean())
    assert accuracy > 0.5, f"class accuracy {accuracy:.2f} (chance 0.10)"
    # the callback logged the same score during validation
    assert float(trainer.callback_metrics["val/class_accuracy"]) > 0.4
