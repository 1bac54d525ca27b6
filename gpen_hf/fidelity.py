"""Per-face fidelity: how much of each restored face goes into the photo, and the identity guard.

``alpha="auto"`` takes each face's blend weight from its measured degradation
(:func:`gpen_hf.faces.quality.estimate_quality`): a clean face is left almost untouched, a degraded one fully
restored. The identity guard then checks the blended face against the input face with the face descriptor we
ship (:class:`gpen_hf.metrics.identity.FaceRecognitionNet`): when their cosine similarity falls below a
threshold, the weight is lowered step by step toward the input, so a restorer never turns one person into
another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from gpen_hf.faces.align import resize_face
from gpen_hf.faces.quality import FaceQuality
from gpen_hf.metrics.identity import FaceRecognitionNet, face_embedding

#: cosine similarity (input face vs blended face) below which the guard blends back toward the input.
IDENTITY_THRESHOLD = 0.9
#: the weights the guard tries, as fractions of the weight it was given (largest one that passes wins).
GUARD_STEPS = (1.0, 0.75, 0.5, 0.25, 0.0)


@dataclass(frozen=True)
class FaceFidelity:
    """Why a face was (or wasn't) changed.

    Attributes:
        quality: the degradation estimate (``None`` when ``alpha`` was a number and nothing was measured).
        alpha: the blend weight used, 0 = the input face kept, 1 = the restored face.
        identity: cosine similarity of the blended face's descriptor to the input face's (``None``: guard off).
        guarded: the identity guard lowered ``alpha``.
    """

    quality: FaceQuality | None
    alpha: float
    identity: float | None = None
    guarded: bool = False

    def to_dict(self) -> dict:
        data = asdict(self)
        data["quality"] = self.quality.to_dict() if self.quality is not None else None
        return data

    def summary(self) -> str:
        """A short caption line: the blend used and why."""
        parts = [f"α {self.alpha:.2f}"]
        if self.quality is not None:
            parts.append(self.quality.summary())
        if self.identity is not None:
            parts.append(f"identity {self.identity:.2f}" + (" (guard lowered α)" if self.guarded else ""))
        return " · ".join(parts)


def alpha_from_quality(quality: FaceQuality) -> float:
    """The automatic blend weight of a face: its degradation score (monotone, 0 = keep, 1 = restore)."""
    return float(np.clip(quality.score, 0.0, 1.0))


def blend_crops(restored: np.ndarray, crop: np.ndarray, alpha: float) -> np.ndarray:
    """``α·restored + (1 − α)·crop`` in uint8 (the face the photo gets, in crop space)."""
    if alpha >= 1.0:
        return restored
    return np.rint(alpha * restored.astype(np.float32) + (1 - alpha) * crop.astype(np.float32)).astype(np.uint8)


class IdentityGuard:
    """Lowers a face's blend weight while its descriptor strays from the input face's.

    Args:
        threshold: minimum cosine similarity between the input face and the blended face.
        net: the descriptor network (default: the shipped ``FaceRecognitionNet``, created on first use).
    """

    def __init__(self, threshold: float = IDENTITY_THRESHOLD, net: FaceRecognitionNet | None = None) -> None:
        self.threshold = float(threshold)
        self._net = net

    @property
    def net(self) -> FaceRecognitionNet:
        if self._net is None:
            self._net = FaceRecognitionNet()
        return self._net

    @staticmethod
    def _chip_ready(face: np.ndarray) -> np.ndarray:
        """Faces under 64 px (tiny models) are enlarged for the descriptor, which needs 64 at least."""
        return face if face.shape[0] >= 64 else resize_face(face, 128)

    def __call__(self, restored: np.ndarray, crop: np.ndarray, alpha: float) -> tuple[float, float, bool]:
        """``(alpha, similarity, lowered)`` for one face: the largest of ``GUARD_STEPS``·α that passes."""
        if alpha <= 0.0:
            return 0.0, 1.0, False
        def embed(faces: list[np.ndarray]) -> torch.Tensor:
            batch = torch.from_numpy(np.stack([self._chip_ready(f) for f in faces])).permute(0, 3, 1, 2)
            return face_embedding(batch.float() / 255, self.net)

        reference, full = embed([crop, blend_crops(restored, crop, alpha)])
        sim = float(full @ reference)
        if sim >= self.threshold:
            return float(alpha), sim, False
        steps = [s * alpha for s in GUARD_STEPS[1:]]
        sims = (embed([blend_crops(restored, crop, a) for a in steps]) @ reference).tolist()
        for a, sim in zip(steps, sims):
            if sim >= self.threshold or a == 0.0:
                return float(a), float(sim), True
        return 0.0, float(sims[-1]), True
