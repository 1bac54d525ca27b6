"""`gpen-hf restore` and `restore-video` under a launcher: inputs split between two CPU processes (gloo)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from _torchrun import ROOT, torchrun

PHOTOS = ROOT / "tests" / "fixtures" / "photos"


def launch(port: int, *args: str) -> subprocess.CompletedProcess:
    return torchrun(port, "-m", "gpen_hf.cli", *args)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    from gpen_hf.models.gpen import GPENModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model")
    GPENModel(resolution=32, style_dim=64, n_mlp=2, channel_multiplier=1, narrow=0.125).save_pretrained(path)
    return path


@pytest.mark.distributed
@pytest.mark.slow
def test_restore_splits_a_folder_between_two_processes(model, tmp_path) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    for i, name in enumerate(["faceapi__sample6_one_face.jpg", "faceapi__sample2_exif6.jpg"] * 2):
        image = cv2.imread(str(PHOTOS / name))
        cv2.imwrite(str(photos / f"p{i}.jpg"), cv2.resize(image, None, fx=0.5, fy=0.5))
    (photos / "broken.png").write_bytes(b"not a png")
    proc = launch(29531, "restore", str(photos), "-o", str(tmp_path / "out"), "--model", str(model))
    assert proc.returncode == 1, proc.stderr[-3000:]  # the broken file fails, on whichever process had it
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"p{i}.png" for i in range(4)]
    summary = [line for line in proc.stdout.splitlines() if line.startswith("gpen-hf restore:")]
    assert summary == ["gpen-hf restore: 5 image(s) by 2 processes: 4 face(s) restored, 1 failed"]
    assert proc.stderr.count("1 of 5 input(s) failed") == 1


@pytest.mark.distributed
@pytest.mark.slow
def test_restore_video_splits_a_list_of_videos(model, tmp_path) -> None:
    from gpen_hf.video.synthetic import pan_zoom_transforms, render_clip, write_clip

    image = np.ascontiguousarray(cv2.imread(str(PHOTOS / "faceapi__sample6_one_face.jpg"))[:, :, ::-1])
    frames = render_clip(image, pan_zoom_transforms(6, (96, 72), (image.shape[1], image.shape[0])), (96, 72))
    write_clip(tmp_path / "a.mp4", frames)
    shutil.copyfile(tmp_path / "a.mp4", tmp_path / "b.mp4")
    write_clip(tmp_path / "c.mkv", frames[:4], tone_hz=None)
    videos = [str(tmp_path / n) for n in ("a.mp4", "b.mp4", "c.mkv")]
    proc = launch(29533, "restore-video", *videos, "-o", str(tmp_path / "out"), "--model", str(model))
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = proc.stdout[-2000:] + proc.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "b.mp4", "c.mkv"], logs
    assert sum(" frames, " in line and "->" in line for line in proc.stdout.splitlines()) == 3, logs
    summary = [line for line in proc.stdout.splitlines() if line.startswith("gpen-hf restore-video:")]
    expected = "gpen-hf restore-video: 3 video(s) by 2 processes: 16 frames written, 0 failed or incomplete"
    assert summary == [expected], logs
