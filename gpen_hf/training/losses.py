"""Loss terms of StyleGAN2 (stage 1) and of the GPEN paper (stage 2).

Stage 2, as in the paper (section 3.2): ``L = L_A + alpha * L_C + beta * L_F`` with L_A the non-saturating
logistic adversarial loss, L_C the L1 content loss and L_F the feature-matching loss (L2 between the
discriminator's intermediate features of the restored and the ground-truth face, summed over layers);
alpha = 1, beta = 0.02. The discriminator uses the logistic loss and lazy R1. Optional, not in the paper (the
authors' released script has an ArcFace one): an identity term on the face descriptor we ship.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator logistic loss: ``softplus(-D(x)) + softplus(D(G(z)))``, batch means."""
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``-log sigmoid(D(G(z))) = softplus(-D(G(z)))`` (L_A)."""
    return F.softplus(-fake_logits.float()).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1: squared gradient norm of D's output w.r.t. real images, mean over the batch (not yet × gamma/2).

    ``real_images`` must have ``requires_grad=True`` and ``real_logits`` must come from them; the graph is
    kept (``create_graph``) so the penalty can be back-propagated into D.
    """
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_images, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def content_loss(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_C: mean absolute error between the restored and the ground-truth face."""
    return F.l1_loss(restored.float(), target.float())


def feature_matching_loss(fake_features: Sequence[torch.Tensor], real_features: Sequence[torch.Tensor]) -> torch.Tensor:
    """L_F: sum over discriminator layers of the mean squared difference of the features.

    Real features are detached: L_F trains the generator only.
    """
    if len(fake_features) != len(real_features) or not fake_features:
        raise ValueError(f"need the same non-zero number of feature maps, got {len(fake_features)} and "
                         f"{len(real_features)}")
    total = fake_features[0].new_zeros((), dtype=torch.float32)
    for fake, real in zip(fake_features, real_features):
        total = total + F.mse_loss(fake.float(), real.detach().float())
    return total


def gpen_generator_loss(
    fake_logits: torch.Tensor,
    restored: torch.Tensor,
    target: torch.Tensor,
    fake_features: Sequence[torch.Tensor],
    real_features: Sequence[torch.Tensor],
    alpha: float = 1.0,
    beta: float = 0.02,
) -> dict[str, torch.Tensor]:
    """The paper's generator objective. Returns ``{"loss", "adv", "content", "fm"}``."""
    adv = g_nonsaturating_loss(fake_logits)
    content = content_loss(restored, target)
    fm = feature_matching_loss(fake_features, real_features) if beta else adv.new_zeros(())
    return {"loss": adv + alpha * content + beta * fm, "adv": adv, "content": content, "fm": fm}


def identity_loss(restored: torch.Tensor, target: torch.Tensor, net: torch.nn.Module) -> torch.Tensor:
    """1 − cosine similarity of the face descriptors (``net``: the shipped
    :class:`~gpen_hf.metrics.identity.FaceRecognitionNet`, frozen) of the restored and the HQ faces, batch mean.
    Faces in [-1, 1], at least 64 px; the HQ descriptor is a constant."""
    from gpen_hf.metrics.identity import face_chip

    def describe(x: torch.Tensor) -> torch.Tensor:
        return F.normalize(net(face_chip((x.float().clamp(-1, 1) + 1) / 2)), dim=1)

    with torch.no_grad():
        reference = describe(target)
    return (1 - (describe(restored) * reference).sum(dim=1)).mean()


def loss_shares(weighted: dict[str, torch.Tensor | float]) -> dict[str, float]:
    """Each weighted term's share of their sum (``{"adv": L_A, "content": alpha·L_C, ...}`` → fractions)."""
    values = {k: float(v) for k, v in weighted.items()}
    total = sum(values.values())
    return {k: v / total if total > 0 else 0.0 for k, v in values.items()}


class RunningShares:
    """Running means (``decay`` per step) of the weighted generator-loss terms, and each one's share of their
    sum: the generator loss's make-up over the last ~1 / (1 − decay) steps rather than one noisy batch."""

    def __init__(self, decay: float = 0.99) -> None:
        self.decay = decay
        self.means: dict[str, float] = {}

    def update(self, weighted: dict[str, torch.Tensor | float]) -> dict[str, float]:
        """Add one step's weighted terms; returns the shares of the running means."""
        for key, value in weighted.items():
            value = float(value.detach() if isinstance(value, torch.Tensor) else value)
            mean = self.means.get(key)
            self.means[key] = value if mean is None else self.decay * mean + (1 - self.decay) * value
        return loss_shares(self.means)


def path_length_penalty(
    images: torch.Tensor, latents: torch.Tensor, mean_path_length: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN2 path-length regulariser: ``(|J_w^T y| - a)^2`` with y ~ N(0, I) / sqrt(H W).

    Args:
        images: generator output computed from ``latents`` (graph kept).
        latents: (N, n_latent, style_dim) w the images were synthesised from.
        mean_path_length: the running mean ``a``.
    Returns:
        ``(penalty, path_lengths)``; update ``a`` from ``path_lengths.mean()`` (see :func:`update_path_mean`).
    """
    noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * noise).sum(), latents, create_graph=True)
    path_lengths = grad.float().pow(2).sum(2).mean(1).sqrt()
    return (path_lengths - mean_path_length).pow(2).mean(), path_lengths


def update_path_mean(mean_path_length: float, batch_mean: float, decay: float = 0.01) -> float:
    """Exponential moving average of the path length (the target ``a`` of the regulariser)."""
    return mean_path_length + decay * (batch_mean - mean_path_length)


def lazy_adam_hparams(lr: float, betas: tuple[float, float], every: int) -> tuple[float, tuple[float, float]]:
    """StyleGAN2's lazy-regularisation correction: with a regulariser every ``every`` steps, scale the
    learning rate and the Adam betas by ``every / (every + 1)`` (``every <= 0``: no regulariser, no change)."""
    if every <= 0:
        return lr, betas
    ratio = every / (every + 1)
    return lr * ratio, (betas[0] ** ratio, betas[1] ** ratio)
