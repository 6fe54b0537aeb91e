"""StarGAN (Choi et al., 2018): one generator translates an image into any of several domains.

Per batch (the authors' solver.train): the critic D learns real vs translated images (WGAN-GP: the
Wasserstein loss plus a gradient penalty on interpolates) and, on real images, to classify their
domain; every n_critic-th batch G learns to fool D, to make D classify its translation as the target
domain, and to give the image back when translated to its own domain again (cycle L1). Targets are the
batch's own labels shuffled, as in the paper. Manual optimisation; Adam; the learning rate is constant,
then decays linearly to zero (stepped once per batch).

Validation: the cycle L1 (the monitored metric), the domain-classifier accuracy of the translations
(D's auxiliary classifier asked which domain each translation belongs to; its accuracy on real images
beside it as the yardstick) and, with model.eval_fid, FID/KID per target domain (genlab.metrics'
Inception features, as for CycleGAN and pix2pix).
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LambdaLR

from datamodules.multi_domain import MultiDomainDataModule
from genlab.core.errors import DataError, GenLabError
from genlab.core.optim import build_optimizer
from genlab.families.stargan import FAMILY
from lightning_modules.base import GenLabModule
from lightning_modules.export_nets import ExportNet, parity_images
from lightning_modules.gan_common import GANCounters, gradient_penalty
from lightning_modules.stargan_nets import StarDiscriminator, StarGenerator, Translate01ToDomain, one_hot
from lightning_modules.translation_nets import TranslationEval, from_net, linear_decay, panel, to_net


def metric_slug(domain: str) -> str:
    """A domain's name as it appears in metric names (val/fid_<slug>)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", domain).strip("_") or "domain"


class StarGANModule(GANCounters, GenLabModule):
    family = FAMILY
    datamodule_class = MultiDomainDataModule

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]) -> None:
        super().__init__(config, data_info)
        self.automatic_optimization = False
        m = self.run_config.model
        self.domain_names = [str(d) for d in data_info.get("domains", [])]
        if len(self.domain_names) < 2:
            raise DataError(
                f"StarGAN translates between domains and needs at least two; the data has {len(self.domain_names)}"
            )
        n = len(self.domain_names)
        self.channels = int(data_info.get("channels", 3))
        self.image_size = int(data_info.get("image_size", self.run_config.data.image_size))
        self.g = StarGenerator(self.channels, n, m.gen_width, m.gen_blocks)
        self.d = StarDiscriminator(self.channels, self.image_size, n, m.disc_width, m.disc_layers)
        # Fixed validation inputs for the sample panels; saved with the weights so a reload shows the same.
        self.register_buffer("fixed_x", torch.zeros(m.n_panel, self.channels, self.image_size, self.image_size))
        self.register_buffer("fixed_y", torch.arange(m.n_panel) % n)
        self.slugs = [metric_slug(d) for d in self.domain_names]
        self.evaluator = TranslationEval(self.slugs, False, m.eval_fid, self.image_size, m.fid_features)
        self.g_steps = 0
        self.d_batches = 0

    # -- inference ---------------------------------------------------------------------------------

    def domains(self) -> list[str]:
        return list(self.domain_names)

    def directions(self) -> list[str]:
        """As a Translator, a StarGAN's directions are its target domains."""
        return self.domains()

    def domain_index(self, domain: str) -> int:
        if domain not in self.domain_names:
            raise GenLabError(
                f"this run knows the domains {', '.join(self.domain_names)}; {domain!r} is not one of them"
            )
        return self.domain_names.index(domain)

    def translate_labels(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] and target indices (B,) -> translations in [0, 1]."""
        code = one_hot(labels.to(x.device), len(self.domain_names))
        return from_net(self.g(to_net(x), code))

    def translate_to(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, C, H, W) in [0, 1] in `domain`; H, W multiples of 4."""
        target = torch.full((x.shape[0],), self.domain_index(domain), dtype=torch.long, device=x.device)
        return self.translate_labels(x, target)

    def translate(self, x: torch.Tensor, direction: str) -> torch.Tensor:
        return self.translate_to(x, direction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.translate_to(x, self.domain_names[0])

    def reference_output(self) -> torch.Tensor:
        """The fixed validation images, each into domain (i mod n) (eval mode): reload and export parity."""
        labels = torch.arange(self.fixed_x.shape[0], device=self.fixed_x.device) % len(self.domain_names)
        return self.translate_labels(self.fixed_x, labels)

    def export_nets(self) -> dict[str, ExportNet]:
        """The generator: an image in [0, 1] and a target domain index (int32) -> the translation in [0, 1]."""
        images = parity_images(self.fixed_x, 4, self.run_config.seed)
        domains = (torch.arange(images.shape[0]) % len(self.domain_names)).to(torch.int32)
        meta = {
            "inputs": {
                "image": {"range": [0.0, 1.0], "layout": "NCHW"},
                "domain": {"meaning": "target domain index", "range": [0, len(self.domain_names) - 1]},
            },
            "outputs": {"image": {"range": [0.0, 1.0], "layout": "NCHW"}},
            "domains": self.domains(),
            "normalisation": "none needed: the exported net maps [0, 1] to the generator's [-1, 1] and back",
        }
        net = Translate01ToDomain(self.g).eval()
        return {
            "generator": ExportNet(
                net, (images, domains), ["image", "domain"], ["image_out"], {"image_out": "image"}, meta
            )
        }

    # -- training ----------------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        m, o = self.run_config.model, self.run_config.optim
        betas = (o.beta1, o.beta2)
        opt_g = build_optimizer(self.g.parameters(), o, betas=betas)
        opt_d = build_optimizer(self.d.parameters(), o, betas=betas)
        factor = linear_decay(self.planned_batches(), m.constant_lr_fraction)
        return [opt_g, opt_d], [LambdaLR(opt_g, factor), LambdaLR(opt_d, factor)]

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "fixed_batch"):
            x, y = dm.fixed_batch(self.fixed_x.shape[0])
            self.fixed_x[: len(x)] = x.to(self.fixed_x)
            self.fixed_y[: len(y)] = y.to(self.fixed_y)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        m = self.run_config.model
        x01, label_org = batch
        x = to_net(x01)  # (B, C, S, S) in [-1, 1]
        n = len(self.domain_names)
        label_trg = label_org[torch.randperm(label_org.shape[0], device=label_org.device)]
        c_org, c_trg = one_hot(label_org, n), one_hot(label_trg, n)
        opt_g, opt_d = self.optimizers()

        # ---- D: real vs translated (WGAN-GP), and the domain of real images
        with self.toggled_optimizer(opt_d):
            src_real, cls_real = self.d(x)
            d_real = -src_real.mean()
            d_cls = F.cross_entropy(cls_real, label_org)
            with torch.no_grad():
                fake = self.g(x, c_trg)
            src_fake, _ = self.d(fake)
            d_fake = src_fake.mean()
            gp = gradient_penalty(lambda t: self.d(t)[0], x, fake)
            d_loss = d_real + d_fake + m.lambda_cls * d_cls + m.lambda_gp * gp
            self.manual_step(opt_d, d_loss)
        self.d_batches += 1
        logged = {
            "train/d_loss": d_loss.detach(),
            "train/d_wasserstein": -(d_real + d_fake).detach(),
            "train/d_cls": d_cls.detach(),
            "train/gp": gp.detach(),
        }

        # ---- G every n_critic batches: fool D, be classified as the target, come back (cycle)
        if self.d_batches % m.n_critic == 0:
            with self.toggled_optimizer(opt_g):
                fake = self.g(x, c_trg)
                src, cls = self.d(fake)
                g_adv = -src.mean()
                g_cls = F.cross_entropy(cls, label_trg)
                rec = (self.g(fake, c_org) - x).abs().mean()
                g_loss = g_adv + m.lambda_rec * rec + m.lambda_cls * g_cls
                self.manual_step(opt_g, g_loss)
            self.g_steps += 1
            logged.update(
                {
                    "train/g_loss": g_loss.detach(),
                    "train/g_adv": g_adv.detach(),
                    "train/g_cls": g_cls.detach(),
                    "train/cycle_l1": rec.detach() / 2.0,  # [-1, 1] units -> [0, 1] units
                }
            )
        for sched in self.lr_schedulers():
            sched.step()
        logged["train/lr"] = float(opt_g.param_groups[0]["lr"])
        self.log_step(logged, x.shape[0])

    # -- evaluation --------------------------------------------------------------------------------

    @torch.no_grad()
    def _score_batch(
        self, x: torch.Tensor, y: torch.Tensor, evaluator: TranslationEval | None
    ) -> dict[str, torch.Tensor]:
        """Sums over one batch: cycle L1 and classifier hits of every translation into another domain (each
        image into each domain it is not in), classifier hits on the real images; feeds FID/KID per domain."""
        _, cls_real = self.d(to_net(x))
        cyc, acc, count = x.new_zeros(()), x.new_zeros(()), 0
        for d, slug in enumerate(self.slugs):
            moved = y != d  # translating into one's own domain proves nothing
            if not bool(moved.any()):
                continue
            src, src_y = x[moved], y[moved]
            fake = self.translate_labels(src, torch.full_like(src_y, d))
            back = self.translate_labels(fake, src_y)
            cyc = cyc + (back - src).abs().flatten(1).mean(1).sum()
            acc = acc + (self.d(to_net(fake))[1].argmax(1) == d).float().sum()
            count += int(moved.sum())
            reals = x[y == d]
            if len(reals) and evaluator is not None:
                evaluator.update(slug, fake, reals)
        real_hits = (cls_real.argmax(1) == y).float().sum()
        return {"cycle": cyc, "acc": acc, "count": torch.tensor(float(count)), "real_hits": real_hits}

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        # FID/KID of the sanity check's two batches of an untrained net would cost minutes and say nothing
        sanity = self._trainer is not None and self.trainer.sanity_checking
        s = self._score_batch(x, y, None if sanity else self.evaluator)
        self.log("val/domain_acc_real", s["real_hits"] / x.shape[0], on_epoch=True, batch_size=x.shape[0])
        count = int(s["count"])
        if count:
            self.log("val/cycle_l1", s["cycle"] / count, on_epoch=True, batch_size=count)
            self.log("val/domain_acc", s["acc"] / count, on_epoch=True, batch_size=count)

    @torch.no_grad()
    def evaluate_translations(
        self, batches: Any, fid_features: str = "inception", max_batches: int | None = None
    ) -> dict[str, float]:
        """The validation metrics over `batches` of (x, y), FID/KID per target domain always on."""
        evaluator = TranslationEval(self.slugs, False, True, self.image_size, fid_features)
        totals = {"cycle": 0.0, "acc": 0.0, "count": 0.0, "real_hits": 0.0}
        seen = 0
        was_training = self.training
        self.eval()
        try:
            for i, (x, y) in enumerate(batches):
                if max_batches is not None and i >= max_batches:
                    break
                for k, v in self._score_batch(x.to(self.device), y.to(self.device), evaluator).items():
                    totals[k] += float(v)
                seen += len(x)
        finally:
            self.train(was_training)
        out = evaluator.compute_and_reset()
        if totals["count"]:
            out["val/cycle_l1"] = totals["cycle"] / totals["count"]
            out["val/domain_acc"] = totals["acc"] / totals["count"]
        if seen:
            out["val/domain_acc_real"] = totals["real_hits"] / seen
        return out

    def on_validation_epoch_end(self) -> None:
        for name, value in self.evaluator.compute_and_reset().items():
            self.log(name, value)

    def sample_images(self) -> dict[str, torch.Tensor]:
        """Each fixed image, then that image in every domain, one row per image."""
        x = self.fixed_x
        columns = [x] + [self.translate_to(x, d) for d in self.domain_names]
        return {"translations": panel(*columns)}

    def sample_grid_rows(self) -> dict[str, int]:
        return {"translations": 1 + len(self.domain_names)}

    def served_parameters(self) -> int:
        return sum(p.numel() for p in self.g.parameters())
