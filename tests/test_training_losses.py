"""Loss terms on known tensors: they must be exactly what the paper / StyleGAN2 define."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from gpen_hf.training import augment, losses
from gpen_hf.training.data import StreamSampler


def test_d_logistic_loss_known_values():
    real = torch.tensor([[0.0], [2.0]])
    fake = torch.tensor([[0.0], [-1.0]])
    expected = (math.log(2) + math.log1p(math.exp(-2))) / 2 + (math.log(2) + math.log1p(math.exp(-1))) / 2
    assert losses.d_logistic_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_g_nonsaturating_loss_is_minus_log_sigmoid():
    fake = torch.tensor([[0.5], [-3.0], [4.0]])
    expected = -torch.log(torch.sigmoid(fake)).mean()
    assert losses.g_nonsaturating_loss(fake).item() == pytest.approx(expected.item(), rel=1e-6)


def test_r1_penalty_of_linear_discriminator_is_squared_weight_norm():
    w = torch.tensor([1.0, -2.0, 3.0, 0.5]).view(1, 4, 1, 1)
    x = torch.randn(3, 4, 1, 1, requires_grad=True)
    logits = (x * w).flatten(1).sum(1, keepdim=True)
    assert losses.r1_penalty(logits, x).item() == pytest.approx(float((w**2).sum()), rel=1e-6)


def test_r1_penalty_is_differentiable_w_r_t_discriminator():
    w = torch.tensor([2.0], requires_grad=True)
    x = torch.randn(2, 1, requires_grad=True)
    penalty = losses.r1_penalty((w * x).sum(1, keepdim=True), x)  # = w^2
    (grad,) = torch.autograd.grad(penalty, w)
    assert grad.item() == pytest.approx(4.0)


def test_content_loss_is_l1():
    a, b = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)
    b[0, 0, 0, 0] = -1.5
    assert losses.content_loss(a, b).item() == pytest.approx((11 * 0.5 + 1.5) / 12)


def test_feature_matching_sums_layer_mses_and_detaches_real():
    fake = [torch.zeros(2, 4, 2, 2, requires_grad=True), torch.ones(2, 1, requires_grad=True)]
    real = [torch.full((2, 4, 2, 2), 2.0, requires_grad=True), torch.full((2, 1), 4.0, requires_grad=True)]
    fm = losses.feature_matching_loss(fake, real)
    assert fm.item() == pytest.approx(4.0 + 9.0)
    fm.backward()
    assert real[0].grad is None and fake[0].grad is not None


def test_feature_matching_rejects_mismatched_layers():
    with pytest.raises(ValueError, match="same non-zero number"):
        losses.feature_matching_loss([torch.zeros(1)], [])


def test_gpen_generator_loss_is_la_plus_alpha_lc_plus_beta_lf():
    fake_logits = torch.tensor([[1.0], [-1.0]])
    restored, target = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.25)
    ff, rf = [torch.zeros(2, 8)], [torch.ones(2, 8)]
    terms = losses.gpen_generator_loss(fake_logits, restored, target, ff, rf)  # paper defaults 1, 0.02
    la = torch.nn.functional.softplus(-fake_logits).mean().item()
    assert terms["adv"].item() == pytest.approx(la)
    assert terms["content"].item() == pytest.approx(0.25)
    assert terms["fm"].item() == pytest.approx(1.0)
    assert terms["loss"].item() == pytest.approx(la + 1.0 * 0.25 + 0.02 * 1.0)
    custom = losses.gpen_generator_loss(fake_logits, restored, target, ff, rf, alpha=2.0, beta=0.5)
    assert custom["loss"].item() == pytest.approx(la + 0.5 + 0.5)


def test_identity_loss_on_the_shipped_descriptor():
    from pathlib import Path

    import cv2

    from gpen_hf.metrics.identity import FaceRecognitionNet

    net = FaceRecognitionNet()
    face = cv2.imread(str(Path(__file__).parent / "fixtures" / "photos" / "faceapi__sample6_one_face.jpg"))
    h, w = face.shape[:2]
    side = min(h, w)
    face = cv2.resize(face[:side, (w - side) // 2:(w + side) // 2, ::-1], (64, 64), interpolation=cv2.INTER_AREA)
    target = torch.from_numpy(face.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    assert losses.identity_loss(target, target, net).item() == pytest.approx(0.0, abs=1e-5)
    restored = (target.flip(-1) * 0.5).requires_grad_(True)  # another face: mirrored and darker
    loss = losses.identity_loss(restored, target, net)
    loss.backward()
    assert loss.item() > 0.01 and restored.grad.abs().sum() > 0  # the gradient reaches the restored face
    assert not any(p.requires_grad for p in net.parameters())  # the descriptor stays frozen


def test_loss_shares_are_fractions_of_the_weighted_sum():
    shares = losses.loss_shares({"adv": torch.tensor(0.6), "content": 0.3, "fm": 0.1})
    assert shares == pytest.approx({"adv": 0.6, "content": 0.3, "fm": 0.1})
    assert losses.loss_shares({"adv": 0.0, "content": 0.0}) == {"adv": 0.0, "content": 0.0}


def test_running_shares_read_terms_still_in_the_graph_without_warnings():
    x = torch.ones(2, requires_grad=True)
    running = losses.RunningShares(decay=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float() of a tensor that requires grad warns
        running.update({"adv": (x * 3).sum(), "content": (x * 1).sum()})
        shares = running.update({"adv": (x * 1).sum(), "content": (x * 1).sum()})
    assert shares == pytest.approx({"adv": 4 / 6, "content": 2 / 6})


def test_path_length_penalty_of_linear_map():
    # images = sum over layers of latents, tiled: J^T y has a known norm; penalty vs. mean a = 0.
    torch.manual_seed(0)
    latents = torch.randn(2, 3, 4, requires_grad=True)
    images = latents.sum(1).view(2, 1, 2, 2) * 1.0
    penalty, lengths = losses.path_length_penalty(images, latents, 0.0)
    assert lengths.shape == (2,)
    assert penalty.item() == pytest.approx(lengths.pow(2).mean().item(), rel=1e-5)
    assert losses.update_path_mean(1.0, 3.0, decay=0.5) == 2.0


def test_lazy_adam_hparams():
    lr, betas = losses.lazy_adam_hparams(0.002, (0.0, 0.99), 16)
    assert lr == pytest.approx(0.002 * 16 / 17)
    assert betas == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert losses.lazy_adam_hparams(0.002, (0.0, 0.99), 0) == (0.002, (0.0, 0.99))


def test_diff_augment_is_differentiable_and_shape_preserving():
    x = torch.randn(3, 3, 16, 16, requires_grad=True)
    y = augment.diff_augment(x, "color,translation,cutout", generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_diff_augment_translation_shifts_content():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = augment.rand_translation(x, ratio=0.25, generator=torch.Generator().manual_seed(0))
    values = set(y.flatten().tolist()) - {0.0}
    assert values <= set(x.flatten().tolist())
    assert torch.equal(augment.diff_augment(x, "none"), x)
    with pytest.raises(ValueError, match="unknown DiffAugment policy"):
        augment.parse_policy("colour")


def test_cutout_zeroes_a_quarter_at_most():
    x = torch.ones(4, 3, 8, 8)
    y = augment.rand_cutout(x, generator=torch.Generator().manual_seed(0))
    zero_fraction = (y == 0).float().mean().item()
    assert 0 < zero_fraction <= 0.25


def test_stream_sampler_shards_ranks_and_resumes():
    def take(sampler, n):
        it = iter(sampler)
        return [next(it) for _ in range(n)]

    r0, r1 = take(StreamSampler(2, 0, 2), 4), take(StreamSampler(2, 1, 2), 4)
    assert r0 == [0, 1, 4, 5] and r1 == [2, 3, 6, 7]
    assert take(StreamSampler(2, 0, 2, start_batch=1), 2) == [4, 5]
    assert not set(r0) & set(r1)
    assert np.array_equal(take(StreamSampler(3), 6), np.arange(6))
