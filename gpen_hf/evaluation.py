"""Full-reference evaluation on aligned HQ faces: degrade with a fixed seed, restore, measure, tabulate.

Every method sees the same LQ faces: ``sample(rng(seed, i))`` draws the parameters of face ``i`` so the table
is reproducible and independent of the order or number of methods. Baselines: the LQ input itself (as the
model sees it: bilinear-resized back), bicubic and Lanczos resizing of the small LQ, and a classical
restoration (OpenCV non-local-means denoising + unsharp masking of the bicubic LQ).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .degradation import PRESETS, degrade, fixed_degradation, sample, with_overrides
from .faces.align import resize_face
from .image_io import list_images as _list_image_files
from .image_io import load_image
from .metrics import HIGHER_IS_BETTER, FaceMetrics

DEFAULT_METRICS = ("psnr", "ssim", "lpips", "identity")
Restorer = Callable[[list[np.ndarray]], list[np.ndarray]]


@dataclass
class EvaluationResult:
    """Per-face metric values of each method, and a markdown table of mean ± std."""

    metrics: tuple[str, ...]
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # method -> metric -> per face
    files: list[str] = field(default_factory=list)
    preset: str = "paper"
    seed: int = 0
    resolution: int = 0

    def mean(self, method: str, metric: str) -> float:
        return float(np.mean(self.values[method][metric]))

    def _table_head(self, first: str, arrows: bool) -> list[str]:
        """Header row (``first`` then one column per metric, with ↑/↓ if ``arrows``) and separator row."""
        labels = [("ID" if m == "identity" else m.upper()) + (f" {'↑' if HIGHER_IS_BETTER[m] else '↓'}"
                                                              if arrows else "") for m in self.metrics]
        return [f"| {first} | " + " | ".join(labels) + " |", "|---" * (len(self.metrics) + 1) + "|"]

    def to_markdown(self) -> str:
        lines = [
            f"{len(self.files)} faces at {self.resolution}px, degradation preset `{self.preset}`, seed {self.seed}",
            "",
            *self._table_head("method", arrows=True),
        ]
        for method, per_metric in self.values.items():
            cells = [f"{np.mean(per_metric[m]):.4f} ± {np.std(per_metric[m]):.4f}" for m in self.metrics]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def paired(self, method: str, reference: str, metric: str) -> tuple[float, float, int, int]:
        """``method`` against ``reference`` face by face on ``metric``: the mean difference, its standard error,
        the number of faces where ``method`` is better and the number of faces compared (both finite)."""
        for row in (method, reference):
            if row not in self.values:
                raise ValueError(f"no row {row!r} to compare with; rows: {list(self.values)}")
        diff = np.asarray(self.values[method][metric]) - np.asarray(self.values[reference][metric])
        diff = diff[np.isfinite(diff)]
        sem = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        better = int(np.sum(diff > 0 if HIGHER_IS_BETTER[metric] else diff < 0))
        return float(np.mean(diff)) if len(diff) else float("nan"), sem, better, len(diff)

    def paired_to_markdown(self, reference: str) -> str:
        """Each method against ``reference`` face by face: mean difference ± its standard error, and on how many
        faces the method is better. Paired differences are far less noisy than two means ± std on small sets."""
        if reference not in self.values:
            raise ValueError(f"no row {reference!r} to compare with; rows: {list(self.values)}")
        lines = [f"paired against {reference}: mean difference ± standard error (faces where better)", "",
                 *self._table_head(f"method − {reference}", arrows=False)]
        for method in self.values:
            if method == reference:
                continue
            cells = []
            for m in self.metrics:
                mean, sem, better, n = self.paired(method, reference, m)
                cells.append(f"{mean:+.4f} ± {sem:.4f} ({better}/{n})")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """Every per-face value with its file, preset, seed and resolution (NaN as ``null``), for scripts that
        decide from the numbers rather than from the rounded markdown."""
        values = {method: {m: [v if math.isfinite(v) else None for v in per] for m, per in per_metric.items()}
                  for method, per_metric in self.values.items()}
        return json.dumps({"metrics": list(self.metrics), "files": self.files, "preset": self.preset,
                           "seed": self.seed, "resolution": self.resolution, "values": values}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> EvaluationResult:
        """The inverse of :meth:`to_json`."""
        data = json.loads(text)
        values = {method: {m: [float("nan") if v is None else float(v) for v in per] for m, per in pm.items()}
                  for method, pm in data["values"].items()}
        return cls(tuple(data["metrics"]), values, list(data["files"]), data["preset"], int(data["seed"]),
                   int(data["resolution"]))


def list_images(data_dir: str | Path) -> list[Path]:
    """Image files directly inside ``data_dir`` (sorted), with a clear error when there are none."""
    return _list_image_files(data_dir, what="evaluation data folder")


def load_faces(files: Sequence[Path], resolution: int) -> list[np.ndarray]:
    """Aligned faces as RGB uint8 ``resolution``² (area-downscaled; no upscaling of small files)."""
    faces = []
    for path in files:
        rgb = load_image(path).rgb
        h, w = rgb.shape[:2]
        if h != w:
            raise ValueError(f"{path}: aligned faces must be square, got {w}x{h}")
        faces.append(resize_face(rgb, resolution))
    return faces


def classical_restore(image: np.ndarray) -> np.ndarray:
    """Non-local-means denoising followed by an unsharp mask: the no-learning baseline."""
    denoised = cv2.fastNlMeansDenoisingColored(image, None, 7, 7, 5, 15)
    blurred = cv2.GaussianBlur(denoised, (0, 0), sigmaX=max(1.0, image.shape[0] / 256))
    return cv2.addWeighted(denoised, 1.6, blurred, -0.6, 0)


BASELINES = ("LQ input", "bicubic", "Lanczos", "classical")


def face_degradation(preset: str, seed: int, index: int, resolution: int):
    """Parameters for face ``index``: drawn from a sampling preset (:data:`~gpen_hf.degradation.PRESETS`) with
    ``rng([seed, index])``, or a fixed degradation (``moderate``, ``severe``, ``srN``) with that face's noise."""
    rng = np.random.default_rng([seed, index])
    if preset in PRESETS:
        return sample(rng, preset, resolution=resolution)
    return fixed_degradation(preset, resolution, seed=int(rng.integers(0, 2**31 - 1)))


def degraded_inputs(hq_faces: Sequence[np.ndarray], preset: str, seed: int,
                    baselines: Sequence[str] = BASELINES) -> dict[str, list[np.ndarray]]:
    """The LQ faces (at full size) and the resizing baselines, face ``i`` degraded as :func:`face_degradation`.

    The ``"LQ input"`` entry is always there (it is what restorers get); ``baselines`` picks the others.
    """
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {list(BASELINES)}")
    out: dict[str, list[np.ndarray]] = {name: [] for name in BASELINES if name == "LQ input" or name in baselines}
    for i, hq in enumerate(hq_faces):
        params = face_degradation(preset, seed, i, hq.shape[0])
        out["LQ input"].append(degrade(hq, params))
        if len(out) == 1:
            continue
        small = degrade(hq, with_overrides(params, upsample=False))
        size = (hq.shape[1], hq.shape[0])
        bicubic = cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)
        if "bicubic" in out:
            out["bicubic"].append(bicubic)
        if "Lanczos" in out:
            out["Lanczos"].append(cv2.resize(small, size, interpolation=cv2.INTER_LANCZOS4))
        if "classical" in out:
            out["classical"].append(classical_restore(bicubic))
    return out


def evaluate(
    data_dir: str | Path,
    restorers: dict[str, Restorer],
    resolution: int,
    preset: str = "paper",
    seed: int = 0,
    metrics: Sequence[str] = DEFAULT_METRICS,
    face_metrics: FaceMetrics | None = None,
    limit: int | None = None,
    baselines: Sequence[str] = BASELINES,
) -> EvaluationResult:
    """Evaluate baselines and each ``restorers[name]`` (LQ faces in → restored faces out) on ``data_dir``.

    ``baselines`` names the rows besides the models (from :data:`BASELINES`; the LQ input is always measured).
    """
    files = list_images(data_dir)[:limit]
    hq = load_faces(files, resolution)
    inputs = degraded_inputs(hq, preset, seed, baselines)
    outputs = dict(inputs)
    for name, restore in restorers.items():
        outputs[name] = restore(inputs["LQ input"])
    face_metrics = face_metrics or FaceMetrics()
    result = EvaluationResult(tuple(metrics), files=[f.name for f in files], preset=preset, seed=seed,
                              resolution=resolution)
    for method, images in outputs.items():
        per = {m: [] for m in metrics}
        for restored, reference in zip(images, hq):
            values = face_metrics(restored, reference, metrics)
            for m in metrics:
                per[m].append(values[m] if math.isfinite(values[m]) else float("nan"))
        result.values[method] = per
    return result
