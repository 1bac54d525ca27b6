"""Video decoding and encoding with PyAV (its wheels carry FFmpeg): RGB frames in, RGB frames out.

:class:`VideoReader` demuxes the input once: video packets are decoded to H×W×3 ``uint8`` RGB frames (with
their timestamps), audio packets are handed to a sink as they come, so a :class:`VideoWriter` can copy the
audio track into the output without re-encoding and without holding the video in memory. Timestamps are
kept frame by frame, so the frame count, the frame rate, and a variable frame rate survive the round trip.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

logger = logging.getLogger(__name__)

#: audio codecs each output container takes as they are; anything else is re-encoded (AAC / Opus)
_AUDIO_COPY = {
    ".mp4": {"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"},
    ".m4v": {"aac", "mp3", "alac", "ac3", "eac3"},
    ".mov": {"aac", "mp3", "alac", "ac3", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    ".mkv": None,  # Matroska takes (almost) anything
    ".webm": {"opus", "vorbis"},
}
_VIDEO_CODEC = {".webm": "libvpx-vp9"}  # H.264 everywhere else
#: H.264 CRF of restored videos: high quality, so the encoder's own frame-to-frame noise stays below the face's
DEFAULT_CRF = 18
#: pixel formats the writer offers: 4:2:0 8-bit plays everywhere; 4:4:4 and 10-bit keep more (docs/video.md)
PIXEL_FORMATS = ("yuv420p", "yuv444p", "yuv420p10le", "yuv444p10le")
_AUDIO_CODEC = {".webm": "libopus"}


class VideoError(ValueError):
    """A video could not be read or written; the message names the file and what was wrong."""


@dataclass
class VideoInfo:
    """What the input stream says about itself (``frames`` is 0 when the container does not record it)."""

    path: str
    width: int
    height: int
    fps: Fraction
    frames: int
    duration: float | None
    codec: str
    time_base: Fraction
    audio_codec: str | None

    def describe(self) -> str:
        audio = f", audio {self.audio_codec}" if self.audio_codec else ", no audio"
        length = f"{self.frames} frames" if self.frames else "unknown length"
        return f"{self.width}×{self.height} {self.codec} at {float(self.fps):.3g} fps, {length}{audio}"


@dataclass
class Frame:
    """One decoded frame: RGB pixels, presentation time in ``time_base`` units, and its index."""

    rgb: np.ndarray
    pts: int | None
    index: int


def _av_errors() -> tuple[type[BaseException], ...]:
    return (av.FFmpegError, OSError, ValueError)


class VideoReader:
    """Open a video file and decode it frame by frame (see module docstring).

    Raises :class:`VideoError` when the file is missing, not a video, truncated past repair, or its codec has
    no decoder. After iterating, ``error`` holds why decoding stopped early (None when it reached the end).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such file")
        try:
            self.container = av.open(str(self.path), "r")
        except _av_errors() as err:
            raise VideoError(f"{self.path}: not a video FFmpeg can open ({_reason(err)}); a truncated file "
                             "whose index is missing looks like this too") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(f"{self.path}: the file has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        ctx = self.stream.codec_context
        codec = getattr(ctx, "name", None) if ctx is not None else None
        if not codec or not self.stream.width or not self.stream.height:
            tag = getattr(self.stream, "codec_tag", "") or "?"
            self.container.close()
            raise VideoError(f"{self.path}: unknown video codec (tag {tag!r}); FFmpeg has no decoder for it. "
                             "Convert it to H.264, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`.")
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        duration = (float(self.stream.duration * self.stream.time_base) if self.stream.duration
                    else (self.container.duration / 1e6 if self.container.duration else None))
        self.info = VideoInfo(str(self.path), self.stream.width, self.stream.height, Fraction(rate),
                              int(self.stream.frames or 0), duration, codec,
                              Fraction(self.stream.time_base or Fraction(1, 90000)),
                              self.audio.codec_context.name if self.audio is not None else None)
        self.error: str | None = None
        self.decoded = 0

    def expected_frames(self) -> int:
        """Frames the container promises (its count, else 90 % of duration × rate, as the container's duration
        may include a longer audio track); 0 when it cannot tell."""
        if self.info.frames:
            return self.info.frames
        if self.info.duration:
            return int(0.9 * self.info.duration * float(self.info.fps))
        return 0

    def frames(self, audio_sink: Callable[[av.Packet], None] | None = None) -> Iterator[Frame]:
        """Decoded frames in presentation order; audio packets go to ``audio_sink`` as they are demuxed."""
        streams = [self.stream] + ([self.audio] if self.audio is not None and audio_sink else [])
        try:
            for packet in self.container.demux(*streams):
                if packet.stream is not self.stream:
                    if packet.dts is not None and packet.size:
                        audio_sink(packet)
                    continue
                for frame in packet.decode():
                    rgb = frame.to_ndarray(format="rgb24")
                    yield Frame(rgb, frame.pts, self.decoded)
                    self.decoded += 1
        except _av_errors() as err:
            self.error = f"decoding stopped at frame {self.decoded}: {_reason(err)}"
            logger.warning("%s: %s", self.path, self.error)

    def close(self) -> None:
        self.container.close()


class VideoWriter:
    """Encode RGB frames to ``path`` (H.264, or VP9 for .webm) with the input's timing and audio track.

    Frames keep their input timestamps (``time_base`` units), so a variable frame rate stays as it was.
    ``crf`` is the H.264 quality (VP9 gets ``crf`` + 12), ``pix_fmt`` one of :data:`PIXEL_FORMATS`; odd sizes
    are encoded in 4:4:4 (4:2:0 needs even sides), so the size is always kept.
    """

    def __init__(self, path: str | Path, info: VideoInfo, audio: av.audio.stream.AudioStream | None = None,
                 crf: int = DEFAULT_CRF, pix_fmt: str = "yuv420p") -> None:
        self.path = Path(path)
        if not 0 <= crf <= 51:
            raise VideoError(f"{self.path}: crf must be in [0, 51] (0 = lossless), got {crf}")
        if pix_fmt not in PIXEL_FORMATS:
            raise VideoError(f"{self.path}: pixel format must be one of {', '.join(PIXEL_FORMATS)}, got {pix_fmt!r}")
        suffix = self.path.suffix.lower()
        if suffix not in _AUDIO_COPY:
            raise VideoError(f"{self.path}: cannot write {suffix or 'files without an extension'}; "
                             f"use one of {', '.join(sorted(_AUDIO_COPY))}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.path), "w")
        codec = _VIDEO_CODEC.get(suffix, "libx264")
        self.stream = self.container.add_stream(codec, rate=info.fps)
        self.stream.width, self.stream.height = info.width, info.height
        even = info.width % 2 == 0 and info.height % 2 == 0
        self.stream.pix_fmt = pix_fmt if even or "420" not in pix_fmt else pix_fmt.replace("420", "444")
        self.stream.codec_context.time_base = info.time_base
        self.stream.options = {"crf": str(crf)} if codec == "libx264" else {"crf": str(crf + 12), "b": "0"}
        self.time_base = info.time_base
        self._last_pts: int | None = None
        self.audio_in = audio
        self.audio_out = None
        self._resampler = None
        self._decoder = None
        if audio is not None:
            allowed = _AUDIO_COPY[suffix]
            if allowed is None or audio.codec_context.name in allowed:
                self.audio_out = self.container.add_stream_from_template(audio)
            else:  # the container cannot hold this codec: decode and re-encode
                name = _AUDIO_CODEC.get(suffix, "aac")
                self.audio_out = self.container.add_stream(name, rate=audio.codec_context.sample_rate or 48000)
                self._decoder = audio.codec_context
                self._resampler = av.AudioResampler(format=self.audio_out.codec_context.format,
                                                    layout=self.audio_out.codec_context.layout,
                                                    rate=self.audio_out.codec_context.sample_rate)
        self.written = 0

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        """Encode one frame; ``pts`` in the input's time base (None: one frame period after the last)."""
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            step = max(1, round(1 / (float(self.stream.average_rate or 25) * float(self.time_base))))
            pts = 0 if self._last_pts is None else self._last_pts + step
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = frame.reformat(format=self.stream.pix_fmt)
        frame.pts, frame.time_base = pts, self.time_base
        self.container.mux(self.stream.encode(frame))
        self.written += 1

    def write_audio(self, packet: av.Packet) -> None:
        """Copy (or transcode) one demuxed audio packet of the input's audio stream."""
        if self.audio_out is None:
            return
        if self._decoder is None:
            packet.stream = self.audio_out
            self.container.mux(packet)
            return
        for frame in self._decoder.decode(packet):
            frame.pts = None
            for resampled in self._resampler.resample(frame):
                self.container.mux(self.audio_out.encode(resampled))

    def close(self) -> None:
        """Flush the encoders and finish the file (it is playable after this, whatever was written)."""
        try:
            self.container.mux(self.stream.encode(None))
            if self._decoder is not None:
                for resampled in self._resampler.resample(None):
                    self.container.mux(self.audio_out.encode(resampled))
                self.container.mux(self.audio_out.encode(None))
        finally:
            self.container.close()


def _reason(err: BaseException) -> str:
    """FFmpeg's message without the errno and file name PyAV wraps it in."""
    text = str(err).strip() or type(err).__name__
    text = text.split(": '")[0] if ": '" in text else text
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text)


def frame_intervals(pts: list[int | None], time_base: Fraction) -> np.ndarray:
    """Seconds between consecutive timestamps (those that exist)."""
    values = np.array([p for p in pts if p is not None], np.float64) * float(time_base)
    return np.diff(values) if len(values) > 1 else np.zeros(0)


def is_variable_rate(pts: list[int | None], time_base: Fraction, tolerance: float = 0.1) -> bool:
    """Frame intervals differ from their median by more than ``tolerance`` (a fraction of it) somewhere."""
    gaps = frame_intervals(pts, time_base)
    if len(gaps) < 2:
        return False
    median = float(np.median(gaps))
    return median > 0 and bool(np.any(np.abs(gaps - median) > tolerance * median))
