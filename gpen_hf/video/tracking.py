"""Faces followed through time: detections associated across frames, optical-flow tracking in between.

The detector runs every ``detect_every`` frames. Between detections (and across short detection drop-outs)
each face is carried forward by the motion of feature points inside it (pyramidal Lucas–Kanade, forward–
backward checked, a similarity fitted with RANSAC), which is also the face's frame-to-frame motion that the
temporal blend needs. Each track's landmarks are smoothed with a One-Euro filter, whose cut-off rises with
speed: still faces stop swimming, moving ones are followed without lag. Tracks know their first and last
frame, so the restorer can fade them in and out. A new track is *tentative* until a second detection
confirms it (the detector runs on every frame until then): one that two detections in a row do not find ends
there, and the restorer leaves it alone, so a one-off false detection is never restored, while a small real
face the detector only finds now and then still is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from gpen_hf.faces.detect import Detections, _iou_and_cover

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
#: detections in a row that may miss a tentative (once-detected) track before it ends
TENTATIVE_MISSES = 2


class OneEuroFilter:
    """One-Euro filter (Casiez et al., CHI 2012) on an array, with speed measured in ``unit``s per second.

    ``min_cutoff`` (Hz) sets the smoothing of a still signal, ``beta`` how fast the cut-off rises with speed
    (so fast motion is followed without lag), ``d_cutoff`` the smoothing of the speed estimate itself.
    """

    def __init__(self, rate: float, min_cutoff: float = 0.5, beta: float = 1.0, d_cutoff: float = 1.0) -> None:
        self.rate, self.min_cutoff, self.beta, self.d_cutoff = float(rate), min_cutoff, beta, d_cutoff
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None

    def _alpha(self, cutoff: float | np.ndarray) -> float | np.ndarray:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * self.rate)

    def __call__(self, x: np.ndarray, unit: float = 1.0) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.value is None:
            self.value, self.speed = x.copy(), np.zeros_like(x)
            return x.copy()
        raw_speed = (x - self.value) * self.rate / max(unit, 1e-6)
        self.speed = self.speed + self._alpha(self.d_cutoff) * (raw_speed - self.speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self.speed)
        self.value = self.value + self._alpha(cutoff) * (x - self.value)
        return self.value.copy()


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2×3 transform ``a ∘ b`` (apply ``b`` first)."""
    return (np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]]))[:2]


def box_of(landmarks: np.ndarray) -> np.ndarray:
    """A face box from 5 landmarks (about what YuNet draws), for association."""
    centre = landmarks.mean(axis=0)
    iod = max(float(np.linalg.norm(landmarks[1] - landmarks[0])), 1.0)
    half = np.array([1.1 * iod, 1.35 * iod])
    return np.concatenate([centre - half, centre + half]).astype(np.float32)


@dataclass
class FaceTrack:
    """One face through time. ``landmarks``/``raw`` hold, per frame, the smoothed and measured 5×2 points;
    ``motion`` the 2×3 frame-to-frame motion (previous frame → this one)."""

    id: int
    start: int
    filter: OneEuroFilter
    raw: dict[int, np.ndarray] = field(default_factory=dict)
    landmarks: dict[int, np.ndarray] = field(default_factory=dict)
    motion: dict[int, np.ndarray] = field(default_factory=dict)
    last_detected: int = 0
    end: int | None = None  # last frame of a finished track
    flow_lost: bool = False
    detections: int = 1  # how many detections it was matched to (1 = tentative)
    misses: int = 0  # detections in a row that did not find it

    @property
    def confirmed(self) -> bool:
        return self.detections >= 2

    @property
    def dropped(self) -> bool:
        """Ended before a second detection confirmed it: a false detection, never to be restored."""
        return self.end is not None and not self.confirmed

    @property
    def last(self) -> int:
        return max(self.raw)

    def forget_before(self, frame: int) -> None:
        for store in (self.raw, self.landmarks, self.motion):
            for key in [k for k in store if k < frame]:
                del store[key]


def _points_in(gray: np.ndarray, landmarks: np.ndarray, count: int = 60) -> np.ndarray:
    """Corners inside the face (plus the landmarks themselves), float32 N×1×2 for LK."""
    box = box_of(landmarks)
    h, w = gray.shape
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(box[2]) + 1), min(h, int(box[3]) + 1)
    pts = [landmarks.astype(np.float32)]
    if x1 - x0 > 8 and y1 - y0 > 8:
        iod = float(np.linalg.norm(landmarks[1] - landmarks[0]))
        found = cv2.goodFeaturesToTrack(gray[y0:y1, x0:x1], count, 0.01, max(2.0, iod / 8))
        if found is not None:
            pts.append(found.reshape(-1, 2) + np.array([x0, y0], np.float32))
    return np.concatenate(pts).reshape(-1, 1, 2).astype(np.float32)


def track_motion(prev: np.ndarray, gray: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """The similarity that moves the face at ``landmarks`` in ``prev`` to ``gray``, or None if it is lost."""
    pts = _points_in(prev, landmarks)
    iod = max(float(np.linalg.norm(landmarks[1] - landmarks[0])), 1.0)
    win = int(np.clip(iod / 3, 9, 31)) | 1
    params = {"winSize": (win, win), "maxLevel": 3,
              "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None, **params)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(gray, prev, nxt, None, **params)
    good = (status.ravel() == 1) & (status_back.ravel() == 1)
    good &= np.linalg.norm((back - pts).reshape(-1, 2), axis=1) < max(1.0, 0.05 * iod)
    if good.sum() < 6:
        return None
    matrix, inliers = cv2.estimateAffinePartial2D(pts[good], nxt[good], method=cv2.RANSAC,
                                                  ransacReprojThreshold=max(1.0, 0.03 * iod))
    if matrix is None or inliers is None or inliers.sum() < 6:
        return None
    return matrix


class FaceTracker:
    """Keeps face tracks up to date, one frame at a time (see module docstring).

    Args:
        rate: frames per second (the One-Euro filter works in seconds).
        detect_every: run the detector on every k-th frame (1 = every frame).
        max_missed: frames a track lives on by optical flow alone before it ends.
        iou_threshold: minimum box IoU to match a detection to a track.
        min_cutoff / beta: the landmark filter (speed in inter-ocular distances per second).
    """

    def __init__(self, rate: float, detect_every: int = 5, max_missed: int | None = None,
                 iou_threshold: float = 0.3, min_cutoff: float = 0.3, beta: float = 0.7) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self.rate, self.detect_every = float(rate), detect_every
        self.max_missed = max_missed if max_missed is not None else max(2 * detect_every, round(0.5 * rate))
        self.iou_threshold, self.min_cutoff, self.beta = iou_threshold, min_cutoff, beta
        self.active: list[FaceTrack] = []
        self.finished: list[FaceTrack] = []
        self._next_id = 0
        self._prev_gray: np.ndarray | None = None
        self.frame = -1

    def wants_detection(self, frame: int) -> bool:
        return frame % self.detect_every == 0 or any(frame - t.last_detected >= self.detect_every
                                                     or not t.confirmed for t in self.active)

    def update(self, rgb: np.ndarray, detections: Detections | None) -> list[FaceTrack]:
        """Advance to the next frame; ``detections`` for this frame or None (track only). Returns the tracks
        alive in this frame."""
        self.frame += 1
        t = self.frame
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        survivors = []
        for track in self.active:
            prev_lm = track.raw[t - 1]
            motion = track_motion(self._prev_gray, gray, prev_lm) if self._prev_gray is not None else None
            if motion is None and detections is None:  # lost by the flow and nothing to re-find it with
                self._finish(track)
                continue
            track.motion[t] = motion if motion is not None else IDENTITY.copy()
            track.raw[t] = prev_lm @ track.motion[t][:, :2].T + track.motion[t][:, 2]
            track.flow_lost = motion is None
            survivors.append(track)
        self.active = survivors
        if detections is not None:
            self._associate(t, detections)
        alive = []
        for track in self.active:
            missed = track.last_detected != t
            if detections is not None:
                track.misses = track.misses + 1 if missed else 0
            if (t - track.last_detected > self.max_missed or (track.flow_lost and missed)
                    or (not track.confirmed and track.misses >= TENTATIVE_MISSES)):
                track.raw.pop(t, None)
                track.motion.pop(t, None)
                self._finish(track)
                continue
            iod = float(np.linalg.norm(track.raw[t][1] - track.raw[t][0]))
            track.landmarks[t] = track.filter(track.raw[t], unit=iod)
            alive.append(track)
        self.active = alive
        self._prev_gray = gray
        return list(self.active)

    def _associate(self, t: int, dets: Detections) -> None:
        """Greedy IoU matching (best pairs first); unmatched detections start tracks."""
        boxes = [box_of(track.raw[t]) for track in self.active]
        det_boxes = np.array([box_of(lm) for lm in dets.landmarks], np.float32).reshape(-1, 4)
        pairs = []
        for i, box in enumerate(boxes):
            if len(det_boxes):
                iou, _ = _iou_and_cover(box, det_boxes)
                pairs.extend((float(v), i, j) for j, v in enumerate(iou) if v >= self.iou_threshold)
        used_t, used_d = set(), set()
        for _, i, j in sorted(pairs, reverse=True):
            if i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            track = self.active[i]
            prev = track.raw.get(t - 1)
            track.raw[t] = dets.landmarks[j].astype(np.float64)
            if prev is not None and (t not in track.motion or track.flow_lost):
                fitted = cv2.estimateAffinePartial2D(prev, track.raw[t])[0]
                track.motion[t] = fitted if fitted is not None else IDENTITY.copy()
            track.last_detected = t
            track.detections += 1
        for j in range(len(dets)):
            if j not in used_d:
                track = FaceTrack(self._next_id, t, OneEuroFilter(self.rate, self.min_cutoff, self.beta),
                                  last_detected=t)
                track.raw[t] = dets.landmarks[j].astype(np.float64)
                track.motion[t] = IDENTITY.copy()
                self._next_id += 1
                self.active.append(track)

    def _finish(self, track: FaceTrack) -> None:
        track.end = max(track.landmarks) if track.landmarks else track.start
        self.finished.append(track)

    def close(self) -> None:
        """The video is over: its tracks stop with it (``end`` stays None: they do not fade out)."""
        self.finished.extend(self.active)
        self.active = []

    def forget_before(self, frame: int) -> None:
        """Drop per-frame history older than ``frame`` and tracks that ended before it (bounded memory)."""
        self.finished = [t for t in self.finished if t.end is None or t.end >= frame]
        for track in self.active + self.finished:
            track.forget_before(frame)

    def all_tracks(self) -> list[FaceTrack]:
        return self.finished + self.active
