from __future__ import annotations

import numpy as np
import pytest

from physworld_core.video.codec import VideoError, decode_mp4, encode_mp4, mp4_fps


def _smooth_video(frames: int, height: int, width: int) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    video = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        video[t, ..., 0] = (120 + 80 * np.sin((cols + 2 * t) / 9.0)).astype(np.uint8)
        video[t, ..., 1] = (120 + 80 * np.cos(rows / 11.0)).astype(np.uint8)
        video[t, ..., 2] = 90
    return video


@pytest.mark.parametrize(("height", "width"), [(128, 128), (37, 51)])
def test_round_trip_keeps_count_size_and_content(height, width):
    video = _smooth_video(30, height, width)
    data = encode_mp4(video, fps=8)
    decoded = decode_mp4(data)
    assert decoded.shape == video.shape
    assert decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - video).mean() < 4.0
    assert mp4_fps(data) == pytest.approx(8.0)


def test_fractional_fps():
    data = encode_mp4(_smooth_video(24, 16, 16), fps=29.97)
    assert mp4_fps(data) == pytest.approx(29.97, abs=0.01)


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="uint8"):
        encode_mp4(np.zeros((2, 8, 8, 3), dtype=np.float32), fps=8)
    with pytest.raises(ValueError, match="T×H×W×3"):
        encode_mp4(np.zeros((8, 8, 3), dtype=np.uint8), fps=8)
    with pytest.raises(ValueError, match="fps"):
        encode_mp4(np.zeros((2, 8, 8, 3), dtype=np.uint8), fps=0)
    with pytest.raises(VideoError, match="not a decodable video"):
        decode_mp4(b"definitely not an mp4 file")
    with pytest.raises(VideoError, match="non-empty"):
        decode_mp4(b"")
