"""Clips with known motion made from one photo, and the steadiness/sharpness measures that need that motion.

A slow pan and zoom of a still photo, with fresh noise and JPEG compression in every frame, is a video whose
true motion is known exactly: frame ``t`` is ``warp(photo, T_t)``. So consecutive output frames can be aligned
with the true motion and compared (the *warping error*, the usual temporal-consistency measure), and nothing
the restorer hallucinates or lets flicker can hide behind a motion estimate. Used by the tests and by
``benchmarks/bench_video.py``; no video files from elsewhere.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def pan_zoom_transforms(frames: int, size: tuple[int, int], photo_size: tuple[int, int],
                        pan: tuple[float, float] = (0.15, 0.08), zoom: float = 1.15) -> list[np.ndarray]:
    """2×3 transforms photo → frame ``t``: the frame of ``size`` (w, h) covers the photo and drifts by ``pan``
    (fractions of the photo) while zooming in by ``zoom`` over the clip (smooth, cosine-eased)."""
    w, h = size
    pw, ph = photo_size
    base = min(pw / w, ph / h) / (1 + abs(pan[0]) + abs(pan[1]))  # photo pixels per frame pixel at t = 0
    out = []
    for t in range(frames):
        s = 0.5 - 0.5 * np.cos(np.pi * t / max(1, frames - 1))
        span = base / (1 + (zoom - 1) * s)
        cx = pw / 2 + (s - 0.5) * pan[0] * pw
        cy = ph / 2 + (s - 0.5) * pan[1] * ph
        scale = 1 / span
        out.append(np.array([[scale, 0, w / 2 - scale * cx], [0, scale, h / 2 - scale * cy]], np.float64))
    return out


def render_clip(photo: np.ndarray, transforms: list[np.ndarray], size: tuple[int, int], noise: float = 6.0,
                jpeg_quality: int = 60, seed: int = 0) -> list[np.ndarray]:
    """Frames ``warp(photo, T_t)`` with Gaussian noise (``noise`` in 8-bit levels) and JPEG at ``jpeg_quality``
    (a different noise draw and compression per frame, as in real footage)."""
    rng = np.random.default_rng(seed)
    frames = []
    for matrix in transforms:
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        source = photo
        if scale < 1:  # a camera's optics band-limit the scene: anti-alias before sampling it more coarsely
            sigma = 0.6 / scale
            source = cv2.GaussianBlur(photo, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        frame = cv2.warpAffine(source, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        if noise > 0:
            frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        if jpeg_quality < 100:
            _, buf = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            frame = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
        frames.append(frame)
    return frames


def write_clip(path: str | Path, frames: list[np.ndarray], fps: int = 25, tone_hz: float | None = 440.0,
               crf: int = 23, pts: list[int] | None = None, sample_rate: int = 16000) -> None:
    """Encode RGB ``frames`` as H.264 (``crf``) with, if ``tone_hz``, an AAC sine tone as long as the video.

    ``pts`` (in 1/``fps``/100 units) gives a variable frame rate; default one frame every 1/``fps`` s.
    """
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"  # 4:2:0 needs even sides
        video.width, video.height, video.pix_fmt = w, h, pix_fmt
        video.options = {"crf": str(crf)}
        time_base = Fraction(1, fps * 100)
        video.codec_context.time_base = time_base
        audio = out.add_stream("aac", rate=sample_rate, layout="mono") if tone_hz else None
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = (pts[i] if pts is not None else i * 100), time_base
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            end = (pts[-1] + 100) / (fps * 100) if pts is not None else len(frames) / fps
            t = np.arange(round(end * sample_rate)) / sample_rate
            samples = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            chunk = 1024
            for start in range(0, len(samples), chunk):
                piece = av.AudioFrame.from_ndarray(samples[None, start:start + chunk], format="flt", layout="mono")
                piece.sample_rate, piece.pts = sample_rate, start
                piece.time_base = Fraction(1, sample_rate)
                out.mux(audio.encode(piece))
            out.mux(audio.encode(None))


def face_mask(landmarks: np.ndarray, matrix: np.ndarray, size: tuple[int, int], scale: float = 1.2) -> np.ndarray:
    """Boolean mask of the face in a frame: an ellipse around the photo's 5 landmarks moved by ``matrix``."""
    pts = np.asarray(landmarks, np.float64) @ matrix[:, :2].T + matrix[:, 2]
    centre = pts.mean(axis=0)
    iod = float(np.linalg.norm(pts[1] - pts[0]))
    mask = np.zeros((size[1], size[0]), np.uint8)
    axes = (max(1, round(scale * iod)), max(1, round(scale * 1.3 * iod)))
    cv2.ellipse(mask, (round(centre[0]), round(centre[1] - 0.1 * iod)), axes, 0, 0, 360, 1, -1)
    return mask.astype(bool)


def _relative(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The transform frame_a → frame_b given photo → frame transforms ``a`` and ``b``."""
    full_a = np.vstack([a, [0, 0, 1]])
    full_b = np.vstack([b, [0, 0, 1]])
    return (full_b @ np.linalg.inv(full_a))[:2]


def warping_error(frames: list[np.ndarray], transforms: list[np.ndarray], masks: list[np.ndarray]) -> float:
    """Mean absolute difference (8-bit levels) inside ``masks[t]`` between frame ``t`` and frame ``t−1`` warped
    to it with the known motion; pixels the warp does not cover are left out."""
    errors = []
    for t in range(1, len(frames)):
        h, w = frames[t].shape[:2]
        rel = _relative(transforms[t - 1], transforms[t])
        warped = cv2.warpAffine(frames[t - 1].astype(np.float32), rel, (w, h), flags=cv2.INTER_CUBIC,
                                borderValue=-1)
        valid = masks[t] & (warped.min(axis=2) >= 0)
        if valid.any():
            errors.append(float(np.abs(frames[t].astype(np.float32) - warped)[valid].mean()))
    return float(np.mean(errors)) if errors else 0.0


def sharpness(frames: list[np.ndarray], masks: list[np.ndarray]) -> float:
    """Mean variance of the Laplacian of the luminance inside each mask (higher = more fine detail)."""
    values = []
    for frame, mask in zip(frames, masks):
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
        if mask.any():
            values.append(float(lap[mask].var()))
    return float(np.mean(values)) if values else 0.0


def steady_sharpness(frames: list[np.ndarray], transforms: list[np.ndarray], masks: list[np.ndarray]) -> float:
    """The part of :func:`sharpness` that holds still: the mean product, inside ``masks[t]``, of the Laplacian of
    frame ``t`` and that of frame ``t−1`` moved onto it with the known motion. Detail that stays from one frame
    to the next counts in full; noise and shimmer, which change every frame, average out instead of counting
    as sharpness."""
    def laplacian(frame: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return cv2.Laplacian(gray, cv2.CV_32F, ksize=3)

    values = []
    for t in range(1, len(frames)):
        h, w = frames[t].shape[:2]
        rel = _relative(transforms[t - 1], transforms[t])
        cover = cv2.warpAffine(np.ones((h, w), np.float32), rel, (w, h), flags=cv2.INTER_NEAREST) > 0
        previous = cv2.warpAffine(laplacian(frames[t - 1]), rel, (w, h), flags=cv2.INTER_CUBIC)
        valid = masks[t] & cover
        if valid.any():
            a, b = laplacian(frames[t])[valid], previous[valid]
            values.append(float(((a - a.mean()) * (b - b.mean())).mean()))
    return float(np.mean(values)) if values else 0.0
