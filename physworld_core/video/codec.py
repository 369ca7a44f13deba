"""MP4 (H.264) encoding and decoding of RGB frame stacks, in memory.

Videos are stored as content-addressed mp4 blobs, so they must play anywhere: H.264 in yuv420p. That pixel
format needs even width and height, and tabletop captures need not have them, so odd sizes are padded by
repeating the last row/column and the original size is written into the container's metadata; decoding crops
it back. Encoding and decoding round-trip the exact frame count and size (values are lossy, as H.264 is).
"""

from __future__ import annotations

import io
import re
from fractions import Fraction
from typing import Self

import av
import numpy as np

from physworld_core.errors import PhysworldError

SIZE_TAG = "comment"
"""MP4 metadata key holding ``physworld size=WxH frames=T`` (the mp4 muxer keeps "comment")."""
_SIZE_PATTERN = re.compile(r"physworld size=(\d+)x(\d+) frames=(\d+)")


class VideoError(PhysworldError):
    """A video cannot be encoded or decoded."""


def encode_mp4(frames: np.ndarray, fps: float, *, crf: int = 18, preset: str = "medium") -> bytes:
    """Encode T×H×W×3 uint8 RGB frames as an H.264 (yuv420p) mp4.

    Args:
        frames: the video; odd H or W are padded to even by edge replication.
        fps: frame rate (positive; fractional rates are kept as a rational).
        crf: x264 constant rate factor (0 lossless … 51 worst); 18 is visually lossless, which matters because
            the reconstruction stage tracks colours in these frames.
        preset: x264 speed/size trade-off.

    Raises:
        ValueError: bad frames or fps.
        VideoError: the encoder failed.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"encode_mp4 expects T×H×W×3 frames, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"encode_mp4 expects uint8 frames, got {frames.dtype}")
    if len(frames) == 0:
        raise ValueError("encode_mp4 got zero frames")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must lie in [0, 51], got {crf}")
    buffer = io.BytesIO()
    with Mp4Writer(buffer, fps, frames.shape[2], frames.shape[1], crf=crf, preset=preset) as writer:
        writer.write(frames)
    return buffer.getvalue()


class Mp4Writer:
    """Stream frames into an H.264 (yuv420p) mp4 without holding the whole clip in memory (exports
    concatenate hundreds of episodes into one file). Odd sizes are padded by edge replication; the true size
    and frame count are recorded in the container's metadata for :func:`decode_mp4`."""

    def __init__(self, target, fps: float, width: int, height: int, *, crf: int = 18, preset: str = "medium"):
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        self.target, self.fps, self.width, self.height = target, fps, int(width), int(height)
        self.crf, self.preset = crf, preset
        self.frames = 0

    def __enter__(self) -> Self:
        try:
            self._container = av.open(self.target, mode="w", format="mp4")
            self._stream = self._container.add_stream(
                "libx264", rate=Fraction(self.fps).limit_denominator(1001)
            )
            self._stream.width, self._stream.height = (
                self.width + self.width % 2,
                self.height + self.height % 2,
            )
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": self.preset}
        except av.FFmpegError as exc:
            raise VideoError(f"cannot open an H.264 encoder for {self.width}x{self.height}: {exc}") from None
        return self

    def write(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3) or frames.dtype != np.uint8:
            raise ValueError(
                f"Mp4Writer expects uint8 frames of {self.height}x{self.width}x3, got {frames.dtype} {frames.shape}"
            )
        padded = np.pad(frames, ((0, 0), (0, self.height % 2), (0, self.width % 2), (0, 0)), mode="edge")
        try:
            for frame in padded:
                for packet in self._stream.encode(
                    av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                ):
                    self._container.mux(packet)
        except av.FFmpegError as exc:
            raise VideoError(f"H.264 encoding of {self.width}x{self.height} frames failed: {exc}") from None
        self.frames += len(frames)

    def __exit__(self, exc_type, exc_value, tb) -> None:
        try:
            if exc_type is None:
                if self.frames == 0:
                    raise ValueError("encode_mp4 got zero frames")
                self._container.metadata[SIZE_TAG] = (
                    f"physworld size={self.width}x{self.height} frames={self.frames}"
                )
                for packet in self._stream.encode():  # flush delayed (B-)frames so none is lost
                    self._container.mux(packet)
        except av.FFmpegError as exc:
            raise VideoError(f"H.264 encoding of {self.frames} frames failed: {exc}") from None
        finally:
            self._container.close()


def decode_mp4(data: bytes) -> np.ndarray:
    """Decode an mp4 into T×H×W×3 uint8 RGB frames, cropped to the size recorded by :func:`encode_mp4`.

    Videos from elsewhere (no size tag) are returned at their coded size.

    Raises:
        VideoError: the bytes are not a decodable video, or fewer frames decode than were recorded.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise VideoError("decode_mp4 needs the non-empty bytes of an mp4 file")
    try:
        with av.open(io.BytesIO(bytes(data)), mode="r") as container:
            if not container.streams.video:
                raise VideoError("the mp4 has no video stream")
            tag = _SIZE_PATTERN.search(container.metadata.get(SIZE_TAG, ""))
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except av.FFmpegError as exc:
        raise VideoError(f"not a decodable video: {exc}") from None
    if not frames:
        raise VideoError("the mp4 holds no decodable frames")
    video = np.stack(frames)
    if tag:
        width, height, expected = (int(v) for v in tag.groups())
        if len(video) != expected:
            raise VideoError(f"the mp4 records {expected} frames but {len(video)} decoded (truncated file?)")
        video = video[:, :height, :width]
    return np.ascontiguousarray(video)


def mp4_fps(data: bytes) -> float:
    """Frame rate of an mp4's first video stream."""
    try:
        with av.open(io.BytesIO(bytes(data)), mode="r") as container:
            if not container.streams.video:
                raise VideoError("the mp4 has no video stream")
            rate = container.streams.video[0].average_rate or container.streams.video[0].base_rate
    except av.FFmpegError as exc:
        raise VideoError(f"not a decodable video: {exc}") from None
    if not rate:
        raise VideoError("the mp4 does not record a frame rate")
    return float(rate)
