"""Tell an object's pixels from the rest of an image by colour exemplars.

Why exemplars rather than a mean colour and a tolerance: an object's pixels are multi-modal (lit top, shaded
side, a two-tone book), and a tolerance wide enough for all of them takes in a table of a similar colour (a
yellow block on orange wood). Asking whether a pixel is nearer one of the object's own colours than any colour
of the rest of the image separates them where a single distance cannot.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


class ColourModel:
    """Nearest-neighbour colour classifier from frame 0: target exemplars vs everything-else exemplars.

    A pixel is "target" when its nearest target exemplar is within ``max_distance`` (RGB units) and closer
    than its nearest background exemplar. Exemplars keep multi-modal appearance (lit top, shaded side) that a
    single mean and spread would blur into "everything".
    """

    def __init__(
        self,
        frame0: np.ndarray,
        mask0: np.ndarray,
        rng: np.random.Generator,
        max_distance: float = 40.0,
        exemplars: int = 96,
    ):
        target = frame0[mask0].reshape(-1, 3).astype(np.float64)
        # Geometric masks stop a few millimetres above the table, so the object's lowest pixels are unlabelled:
        # keep a margin around the mask out of the background exemplars.
        background = frame0[~ndimage.binary_dilation(mask0, iterations=3)].reshape(-1, 3).astype(np.float64)
        self.target = cKDTree(target[rng.choice(len(target), min(exemplars, len(target)), replace=False)])
        self.background = cKDTree(
            background[rng.choice(len(background), min(4 * exemplars, len(background)), replace=False)]
        )
        self.max_distance = max_distance

    def mask(self, frame: np.ndarray) -> np.ndarray:
        pixels = frame.reshape(-1, 3).astype(np.float64)
        d_target = self.target.query(pixels)[0]
        d_background = self.background.query(pixels)[0]
        return ((d_target < self.max_distance) & (d_target < d_background)).reshape(frame.shape[:2])
