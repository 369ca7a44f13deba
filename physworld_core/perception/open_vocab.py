"""Text-prompted segmentation: "the red can" → which pixels, and which segmented object that is.

Why pluggable: the geometric segmentation (:mod:`.segment`) finds everything standing on the table from the
depth and names it by palette colour and shape class, which covers prompts like "put the red can in the
bin" but not "the Coca-Cola can" or "the shoe with white laces", nor video frames, which have no depth. An
open-vocabulary model (CLIPSeg) reads any phrase on any RGB image; the geometric backend stays the offline
default and the reference the model's answer is checked against.

Both answer :meth:`PhraseSegmenter.segment_phrase` with an H×W bool mask and a score in [0, 1].
:func:`match_mask_to_object` then says which :class:`SceneObject` a mask means (best IoU), refusing when no
object overlaps enough, so a model's hallucinated mask never silently becomes the target.

Backends, by name from :data:`SEGMENTERS` (``load(name, **config)``):

- ``"geometric"`` (default, offline): :func:`segment_objects` plus colour/shape scoring from
  :mod:`.grounding`; needs the scene's depth, so it segments the scene's own frame only.
- ``"clipseg"``: ``CLIPSegForImageSegmentation`` + ``CLIPSegProcessor`` from a local ``model_dir``
  (e.g. CIDAS/clipseg-rd64-refined); heavy imports happen when the backend is built.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from physworld_core.backends import ConfiguredBackend, Registry
from physworld_core.errors import GroundingError, PhysworldError
from physworld_core.models import load_transformers_model, pick_device, require_models_extra
from physworld_core.perception.colour import normalise_colour_word
from physworld_core.perception.grounding import COLOUR_WEIGHT, describe_scene, score_object
from physworld_core.perception.language import NOUN_SHAPES
from physworld_core.perception.segment import SceneObject
from physworld_core.scene import ScenePackage

DEFAULT_MIN_IOU = 0.3
"""A mask overlapping an object by less than this is not that object (a model mask usually bleeds over the
object's edges or misses its shaded side, so a correct answer scores well above it; a wrong one near 0)."""


class SegmentationModelError(PhysworldError):
    """An open-vocabulary segmentation model cannot be loaded or run as configured."""


class MaskMatchError(GroundingError):
    """A phrase's mask does not correspond to any segmented object."""


class PhraseSegmenter(ConfiguredBackend, ABC):
    """Segments what a phrase names in an RGB image; chosen by name from :data:`SEGMENTERS`.

    Subclasses set ``name``, ``config_class`` (a frozen, validated dataclass) and ``needs_scene`` (whether
    the scene's RGB-D frame is required, as for the geometric backend), and implement :meth:`segment_phrase`.
    """

    needs_scene: ClassVar[bool] = False

    @abstractmethod
    def segment_phrase(
        self, rgb: np.ndarray, phrase: str, scene: ScenePackage | None = None
    ) -> tuple[np.ndarray, float]:
        """(H×W bool mask of what ``phrase`` names in ``rgb``, score in [0, 1]); an empty mask if nothing."""


_REGISTRY: Registry[PhraseSegmenter] = Registry("segmentation backend")
SEGMENTERS = _REGISTRY.classes
"""name → segmenter class. Register with :func:`register`."""
register = _REGISTRY.register
load = _REGISTRY.load


def check_request(rgb: np.ndarray, phrase: str) -> tuple[np.ndarray, str]:
    """Validate an image and a phrase (both backends share the rules)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) == 0:
        raise ValueError(f"rgb must be an H×W×3 uint8 image, got {rgb.shape} {rgb.dtype}")
    if not isinstance(phrase, str) or not phrase.strip():
        raise GroundingError("the phrase to segment is empty; name an object, e.g. 'the red can'")
    return rgb, phrase.strip()


# --- matching a mask to the segmented objects ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MaskMatch:
    """Which segmented object a mask refers to.

    Args:
        object: the best-overlapping object.
        iou: its intersection over union with the mask.
        ious: index → IoU for every object (for reports).
    """

    object: SceneObject
    iou: float
    ious: dict[int, float]

    def to_dict(self) -> dict:
        return {
            "object": self.object.description,
            "index": self.object.index,
            "iou": self.iou,
            "ious": {str(k): v for k, v in self.ious.items()},
        }


def match_mask_to_object(
    mask: np.ndarray, objects: list[SceneObject] | tuple[SceneObject, ...], min_iou: float = DEFAULT_MIN_IOU
) -> MaskMatch:
    """The object whose mask overlaps ``mask`` best, by intersection over union.

    IoU rather than overlap share: a mask covering the whole table "contains" every object, and a speck
    inside one object is "contained" by it; both have a low IoU with any single object.

    Raises:
        MaskMatchError: no objects, or the best IoU is below ``min_iou`` (the message lists what was seen).
        ValueError: the mask is not H×W bool of the objects' image size, or ``min_iou`` is outside (0, 1].
    """
    mask = np.asarray(mask)
    if not 0.0 < min_iou <= 1.0:
        raise ValueError(f"min_iou must lie in (0, 1], got {min_iou!r}")
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"the mask must be an H×W bool array, got {mask.shape} {mask.dtype}")
    if not objects:
        raise MaskMatchError("the mask cannot be matched: no objects stand on the table")
    ious = {}
    for candidate in objects:
        if candidate.mask.shape != mask.shape:
            raise ValueError(
                f"the mask is {mask.shape[1]}x{mask.shape[0]} but object #{candidate.index}'s mask is "
                f"{candidate.mask.shape[1]}x{candidate.mask.shape[0]}"
            )
        union = int(np.logical_or(mask, candidate.mask).sum())
        ious[candidate.index] = float(np.logical_and(mask, candidate.mask).sum() / union) if union else 0.0
    best = max(objects, key=lambda o: ious[o.index])
    if ious[best.index] < min_iou:
        seen = ", ".join(f"{o.description} #{o.index}: {ious[o.index]:.2f}" for o in objects)
        raise MaskMatchError(
            f"the mask ({int(mask.sum())} pixels) matches no object: its best IoU is {ious[best.index]:.2f} "
            f"(need {min_iou:.2f}); IoU per object: {seen}"
        )
    return MaskMatch(object=best, iou=ious[best.index], ious=ious)


def locate_phrase(
    segmenter: PhraseSegmenter,
    scene: ScenePackage,
    phrase: str,
    objects: list[SceneObject] | tuple[SceneObject, ...],
    min_iou: float = DEFAULT_MIN_IOU,
) -> tuple[MaskMatch, float]:
    """Segment ``phrase`` in the scene's image and say which of ``objects`` it is: (match, segmenter score).

    Raises:
        MaskMatchError: the segmenter's mask matches no object well enough.
        GroundingError: the segmenter could not find the phrase at all (empty mask).
    """
    mask, score = segmenter.segment_phrase(scene.rgb, phrase, scene)
    if not mask.any():
        raise GroundingError(
            f"the {segmenter.name} segmenter finds nothing for {phrase!r} (score {score:.2f}); "
            f"the scene has: {describe_scene(list(objects))}"
        )
    return match_mask_to_object(mask, objects, min_iou), score


# --- offline backend ---------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"^(?:(?:the|a|an|that|this)\s+)+")


def read_noun_phrase(phrase: str) -> tuple[str | None, str | None]:
    """ "the big red soda can" → ("red", "cylinder"): palette colour and shape class, each ``None`` if unsaid.

    The same vocabulary as prompts (:data:`~physworld_core.perception.language.NOUN_SHAPES`, colour synonyms).

    Raises:
        GroundingError: the phrase names neither a colour nor an object kind with a shape class, or several
            colours.
    """
    text = _ARTICLES.sub("", re.sub(r"\s+", " ", re.sub(r"[^a-z\s\-]", " ", phrase.lower())).strip())
    words = text.split()
    noun = None
    for size in (3, 2, 1):
        candidate = " ".join(words[-size:]) if len(words) >= size else None
        if candidate in NOUN_SHAPES:
            noun = candidate
            break
    rest = words[: len(words) - len(noun.split())] if noun else words
    colours = sorted({c for c in (normalise_colour_word(w) for w in rest) if c})
    if len(colours) > 1:
        raise GroundingError(f"the phrase {phrase!r} names several colours ({', '.join(colours)}); name one")
    colour, shape = (colours[0] if colours else None), (NOUN_SHAPES[noun] if noun else None)
    if colour is None and shape is None:  # "the thing", "the Coca-Cola bottle opener": nothing to score
        known = sorted({n for n, kind in NOUN_SHAPES.items() if kind is not None and " " not in n})
        raise GroundingError(
            f"the geometric segmenter reads only colours and object kinds, and {phrase!r} names neither; "
            f"use a colour or one of: {', '.join(known)} (or the clipseg backend for free-form phrases)"
        )
    return colour, shape


@dataclass(frozen=True)
class GeometricSegmenterConfig:
    """Settings of the geometric (depth-based) segmenter.

    Args:
        min_height_m: a pixel belongs to an object when its point is this far above the table
            (see :func:`~physworld_core.perception.segment.segment_objects`).
    """

    min_height_m: float = 0.008

    def __post_init__(self) -> None:
        if not (np.isfinite(self.min_height_m) and 0 < self.min_height_m < 0.5):
            raise ValueError(f"min_height_m must lie in (0, 0.5) metres, got {self.min_height_m!r}")


@register
class GeometricSegmenter(PhraseSegmenter):
    """Segment the objects from depth, then pick the one whose colour and shape class the phrase names.

    The mask is the segmented object's; the score is the grounding score divided by the best possible one
    for the phrase (colour and shape both exact = 1). Like :func:`~physworld_core.perception.grounding.ground`
    it refuses rather than guesses: two equally good objects raise :class:`GroundingError`. It needs depth,
    so it works on the scene's own frame only; a phrase matching no object gives an empty mask and score 0.
    """

    name = "geometric"
    config_class = GeometricSegmenterConfig
    needs_scene = True

    def __init__(self, config: GeometricSegmenterConfig | None = None) -> None:
        super().__init__(config)
        self._cache: tuple[ScenePackage, list[SceneObject]] | None = None

    def objects(self, scene: ScenePackage) -> list[SceneObject]:
        """The scene's segmented objects (computed once per scene; the scene is kept, so the check by identity
        cannot be fooled by a recycled ``id``)."""
        from physworld_core.perception.plane import fit_support_plane
        from physworld_core.perception.segment import segment_objects

        if self._cache is None or self._cache[0] is not scene:
            plane = fit_support_plane(scene)
            self._cache = (scene, segment_objects(scene, plane, min_height_m=self.config.min_height_m))
        return self._cache[1]

    def segment_phrase(
        self, rgb: np.ndarray, phrase: str, scene: ScenePackage | None = None
    ) -> tuple[np.ndarray, float]:
        rgb, phrase = check_request(rgb, phrase)
        if scene is None:
            raise ValueError("the geometric segmenter needs the scene (its depth finds the objects)")
        if rgb.shape != scene.rgb.shape or not np.array_equal(rgb, scene.rgb):
            raise ValueError(
                "the geometric segmenter can only segment the scene's own RGB-D frame (other images have no "
                "depth); pass scene.rgb, or use the clipseg backend for video frames"
            )
        colour, shape = read_noun_phrase(phrase)
        objects = self.objects(scene)
        scores = {}
        for candidate in objects:
            score = score_object(colour, shape, candidate)
            if score is not None:
                scores[candidate.index] = score
        if not scores:
            return np.zeros(rgb.shape[:2], dtype=bool), 0.0
        best_score = max(scores.values())
        tied = [objects[i] for i, s in scores.items() if best_score - s < 1e-9]
        if len(tied) > 1:
            listed = ", ".join(f"{o.description} #{o.index}" for o in tied)
            raise GroundingError(
                f"{phrase!r} matches {len(tied)} objects equally well ({listed}); name the colour or kind"
            )
        best_possible = (COLOUR_WEIGHT if colour is not None else 0.0) + (1.0 if shape is not None else 0.0)
        return tied[0].mask.copy(), float(min(1.0, best_score / best_possible))


# --- CLIPSeg backend ----------------------------------------------------------------------------------------

_DEVICE_PATTERN = re.compile(r"cpu|auto|cuda(:\d+)?")


@dataclass(frozen=True)
class ClipSegConfig:
    """Settings of the CLIPSeg backend.

    Args:
        model_dir: local folder with ``config.json`` (model_type "clipseg"), the weights and the processor
            files (tokenizer + ``preprocessor_config.json``), as written by ``save_pretrained`` or
            ``hf download CIDAS/clipseg-rd64-refined --local-dir <dir>``. Required; nothing is downloaded.
        threshold: a pixel is in the mask when the model's probability exceeds this.
        device: "cpu", "cuda", "cuda:N" or "auto".
    """

    model_dir: str = ""
    threshold: float = 0.5
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.model_dir, str | Path) or not str(self.model_dir).strip():
            raise SegmentationModelError(
                "model_dir is required for the clipseg segmentation backend: set it to a local folder written "
                "by `hf download CIDAS/clipseg-rd64-refined --local-dir <dir>` or `save_pretrained`"
            )
        object.__setattr__(self, "model_dir", str(self.model_dir))
        if not (np.isfinite(self.threshold) and 0.0 < self.threshold < 1.0):
            raise ValueError(f"threshold must lie in (0, 1), got {self.threshold!r}")
        if not isinstance(self.device, str) or not _DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}")


@register
class ClipSegSegmenter(PhraseSegmenter):
    """CLIPSeg: a CLIP image and text encoder with a light decoder producing a per-pixel phrase probability.

    The model predicts at its own input size (352² for the released weights); the probability map is resized
    to the image with bilinear interpolation and thresholded. The score is the peak probability: how sure the
    model is that the phrase is in the image at all, which is what decides whether to trust the mask.
    """

    name = "clipseg"
    config_class = ClipSegConfig

    def __init__(self, config: ClipSegConfig | None = None) -> None:
        super().__init__(config)
        self.model_dir = _check_clipseg_folder(self.config.model_dir)
        self.device = pick_device(self.config.device, SegmentationModelError)
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = load_transformers_model(
                "clipseg",
                self.model_dir,
                self.device,
                "CLIPSegForImageSegmentation",
                "CLIPSegProcessor",
                SegmentationModelError,
                "CLIPSeg and its processor",
            )
        return self._loaded

    def segment_phrase(
        self, rgb: np.ndarray, phrase: str, scene: ScenePackage | None = None
    ) -> tuple[np.ndarray, float]:
        """``scene`` is not used: CLIPSeg reads only the pixels, so any video frame works."""
        import torch

        rgb, phrase = check_request(rgb, phrase)
        model, processor = self._load()
        try:
            inputs = processor(text=[phrase], images=[rgb], padding=True, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                logits = model(**inputs).logits
            logits = logits.reshape(1, 1, *logits.shape[-2:]).float()
            probability = torch.sigmoid(
                torch.nn.functional.interpolate(
                    logits, size=rgb.shape[:2], mode="bilinear", align_corners=False
                )
            )[0, 0]
        except Exception as exc:
            raise SegmentationModelError(
                f"CLIPSeg from {str(self.model_dir)!r} failed on a {rgb.shape[1]}x{rgb.shape[0]} image with "
                f"{phrase!r}: {type(exc).__name__}: {exc}"
            ) from exc
        probability = probability.cpu().numpy()
        return probability > self.config.threshold, float(probability.max())


def _check_clipseg_folder(model_dir: str) -> Path:
    """Check the packages and the folder before any weights are read; errors name the ``model_dir`` field."""
    require_models_extra("clipseg segmentation backend", SegmentationModelError, "torch", "transformers")
    folder = Path(model_dir).expanduser()
    layout = (
        "it must hold config.json, the weights, preprocessor_config.json and the tokenizer files, as written by "
        "`model.save_pretrained(dir)` + `processor.save_pretrained(dir)` or `hf download <repo> --local-dir <dir>`"
    )
    if not folder.is_dir():
        raise SegmentationModelError(
            f"model_dir {str(folder)!r} does not exist or is not a directory; {layout}"
        )
    if not (folder / "config.json").is_file():
        raise SegmentationModelError(f"model_dir {str(folder)!r} has no config.json; {layout}")
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise SegmentationModelError(
            f"model_dir {str(folder)!r}: config.json is unreadable ({exc})"
        ) from None
    if model_type != "clipseg":
        raise SegmentationModelError(
            f"model_dir {str(folder)!r} holds a {model_type!r} model, not CLIPSeg (model_type 'clipseg')"
        )
    return folder.resolve()
