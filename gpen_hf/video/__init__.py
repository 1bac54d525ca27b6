"""Video restoration: PyAV decode/encode, faces tracked through time, temporally steady restored texture."""

from gpen_hf.video.io import VideoError, VideoInfo, VideoReader, VideoWriter
from gpen_hf.video.restore import VideoRestorer, VideoResult, restore_video
from gpen_hf.video.tracking import FaceTracker, OneEuroFilter

__all__ = [
    "FaceTracker",
    "OneEuroFilter",
    "VideoError",
    "VideoInfo",
    "VideoReader",
    "VideoRestorer",
    "VideoResult",
    "VideoWriter",
    "restore_video",
]
