"""A learned image-to-video backend: a diffusers I2V pipeline (CogVideoX, LTX-Video, Wan) loaded from disk.

Why: the procedural backend shows a goal by moving the grounded object's points; a video model trained on
real footage hallucinates contact, deformation and hands the renderer cannot. Both feed the same later
stages, which reconstruct and re-plan from the pixels, so this backend returns only frames: ``plan`` records
what was asked (pipeline, prompt, seed, sizes), never object transforms, because a learned model has none.

Where the weights come from: only ``model_dir``, a local folder written by ``DiffusionPipeline.save_pretrained``
or ``hf download <repo> --local-dir <dir>``. Nothing is downloaded at run time, so a run is reproducible
from the folder and works offline.

Heavy imports (torch, diffusers, transformers) happen when the backend is built, never at module import,
so :mod:`physworld_core.video.backends` can register this class in an environment without the ``models`` extra.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from physworld_core.errors import VideoModelError
from physworld_core.models import pick_device, require_models_extra
from physworld_core.scene import ScenePackage
from physworld_core.video.base import GeneratedVideo, VideoBackend

WHAT = "diffusers video backend"


@dataclass(frozen=True)
class I2VPipelineSpec:
    """What this backend needs to know about one diffusers image-to-video pipeline class.

    Args:
        frame_step: ``num_frames`` must be 1 + a multiple of this (the VAE keeps the first frame and compresses
            each following group of ``frame_step`` frames into one latent frame); other counts are silently
            rounded by the pipeline, which would break the declared frame count.
        size_step: height and width must be multiples of this (VAE spatial compression × transformer patch).
        native_fps: the frame rate the released checkpoints were trained at, used when ``fps`` is not set, so
            the declared playback rate matches the motion the model produces.
        fps_argument: the ``__call__`` argument that conditions the model on the frame rate, if any.
        packages: modules the pipeline imports lazily besides torch/diffusers/transformers.
    """

    frame_step: int
    size_step: int
    native_fps: float
    fps_argument: str | None = None
    packages: tuple[str, ...] = ()


I2V_PIPELINES: dict[str, I2VPipelineSpec] = {
    "CogVideoXImageToVideoPipeline": I2VPipelineSpec(frame_step=4, size_step=16, native_fps=8.0),
    "LTXImageToVideoPipeline": I2VPipelineSpec(
        frame_step=8, size_step=32, native_fps=25.0, fps_argument="frame_rate"
    ),
    # Wan cleans prompts with ftfy, which diffusers does not depend on.
    "WanImageToVideoPipeline": I2VPipelineSpec(
        frame_step=4, size_step=16, native_fps=16.0, packages=("ftfy",)
    ),
}
"""diffusers class name → what the backend needs to drive it. Adding a pipeline is one entry here."""

PIPELINE_ALIASES: dict[str, str] = {
    # Lightricks/LTX-Video ships one folder for text- and image-to-video; its model_index.json names the
    # text-to-video class, and diffusers' documentation loads the I2V pipeline from the same folder.
    "LTXPipeline": "LTXImageToVideoPipeline",
}
"""``_class_name`` in a model_index.json → the I2V pipeline that loads the same components."""

DTYPES = ("auto", "float32", "float16", "bfloat16")
_DEVICE_PATTERN = re.compile(r"cpu|auto|cuda(:\d+)?")


@dataclass(frozen=True)
class DiffusersVideoConfig:
    """Settings of the diffusers image-to-video backend.

    Args:
        model_dir: local diffusers pipeline folder (holds ``model_index.json`` and one sub-folder per
            component). Required; checked when the backend is built, so a config can be written on a machine
            without the weights.
        pipeline: a key of :data:`I2V_PIPELINES`; ``None`` takes ``_class_name`` from the folder's
            ``model_index.json`` (through :data:`PIPELINE_ALIASES`).
        num_frames: frames to generate; 1 + a multiple of the pipeline's ``frame_step`` (49 suits all three).
        height, width: frame size in pixels, multiples of the pipeline's ``size_step``. The scene image is
            resized (not cropped) to it, so ``scene.camera.resized(width, height)`` is the video's camera.
            Checkpoints have sizes they were trained at (CogVideoX-5b-I2V: 480×720 only; LTX: multiples of 32,
            e.g. 480×704; Wan 2.1 I2V 480P: 480×832).
        fps: declared playback rate; ``None`` uses the pipeline's native rate (CogVideoX 8, LTX 25, Wan 16).
            LTX is also conditioned on it.
        num_inference_steps: denoising steps.
        guidance_scale: classifier-free guidance; ``None`` keeps the pipeline's default. ≤ 1 turns guidance off
            (half the compute, weaker prompt adherence).
        negative_prompt: what the video should not show; empty keeps the pipeline's default.
        device: "cpu", "cuda", "cuda:N", or "auto" (CUDA when available).
        dtype: weight dtype: "float32", "float16", "bfloat16", or "auto" (bfloat16 on CUDA, float32 on CPU,
            where half precision is slow or unsupported).
        seed: seeds the initial noise; the video stage sets it per sample. The noise is drawn on the CPU so a
            seed gives the same starting noise on any device.
    """

    model_dir: str = ""
    pipeline: str | None = None
    num_frames: int = 49
    height: int = 480
    width: int = 704
    fps: float | None = None
    num_inference_steps: int = 50
    guidance_scale: float | None = None
    negative_prompt: str = ""
    device: str = "auto"
    dtype: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.model_dir, str | Path) or not str(self.model_dir).strip():
            raise VideoModelError(
                "model_dir is required for the diffusers video backend: set it to a local diffusers pipeline "
                "folder (with model_index.json), e.g. one written by `hf download <repo> --local-dir <dir>`"
            )
        object.__setattr__(self, "model_dir", str(self.model_dir))
        if self.pipeline is not None and self.pipeline not in I2V_PIPELINES:
            raise ValueError(
                f"pipeline must be one of {', '.join(sorted(I2V_PIPELINES))} (or None to read it from "
                f"model_index.json), got {self.pipeline!r}"
            )
        for name in ("num_frames", "height", "width", "num_inference_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not 2 <= self.num_frames <= 1024:
            raise ValueError(f"num_frames must lie in [2, 1024], got {self.num_frames!r}")
        for name in ("height", "width"):
            value = getattr(self, name)
            if not (8 <= value <= 4096 and value % 8 == 0):
                raise ValueError(f"{name} must be a multiple of 8 in [8, 4096] pixels, got {value!r}")
        if self.fps is not None and not (np.isfinite(self.fps) and 0 < self.fps <= 120):
            raise ValueError(
                f"fps must lie in (0, 120] or be None (the pipeline's native rate), got {self.fps!r}"
            )
        if not 1 <= self.num_inference_steps <= 1000:
            raise ValueError(f"num_inference_steps must lie in [1, 1000], got {self.num_inference_steps!r}")
        if self.guidance_scale is not None and not (
            np.isfinite(self.guidance_scale) and 0 <= self.guidance_scale <= 50
        ):
            raise ValueError(f"guidance_scale must lie in [0, 50] or be None, got {self.guidance_scale!r}")
        if not isinstance(self.negative_prompt, str):
            raise TypeError(f"negative_prompt must be a string, got {self.negative_prompt!r}")
        if not isinstance(self.device, str) or not _DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be a non-negative 64-bit integer, got {self.seed!r}")
        if self.pipeline is not None:
            check_shape_for(self, self.pipeline)


def check_shape_for(config: DiffusersVideoConfig, pipeline: str) -> None:
    """Raise ``ValueError`` when the frame count or size is one ``pipeline`` would silently change."""
    spec = I2V_PIPELINES[pipeline]
    if (config.num_frames - 1) % spec.frame_step:
        below = (config.num_frames - 1) // spec.frame_step * spec.frame_step + 1
        nearest = sorted({max(below, 1 + spec.frame_step), max(below, 1) + spec.frame_step})
        raise ValueError(
            f"num_frames={config.num_frames} does not suit {pipeline}: it must be 1 + a multiple of "
            f"{spec.frame_step} (e.g. {' or '.join(map(str, nearest))})"
        )
    for name in ("height", "width"):
        value = getattr(config, name)
        if value % spec.size_step:
            raise ValueError(
                f"{name}={value} does not suit {pipeline}: it must be a multiple of {spec.size_step}"
            )


def read_model_index(model_dir: str) -> tuple[Path, dict[str, Any]]:
    """Resolve ``model_dir`` and parse its ``model_index.json``, raising errors that name the config field."""
    folder = Path(model_dir).expanduser()
    what = (
        "it must be a diffusers pipeline folder holding model_index.json and one sub-folder per component, "
        "as written by `DiffusionPipeline.save_pretrained(dir)` or `hf download <repo> --local-dir <dir>`"
    )
    if not folder.is_dir():
        raise VideoModelError(f"model_dir {str(folder)!r} does not exist or is not a directory; {what}")
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise VideoModelError(f"model_dir {str(folder)!r} has no model_index.json; {what}")
    try:
        index = json.loads(index_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VideoModelError(
            f"model_dir {str(folder)!r}: model_index.json is unreadable ({exc}); {what}"
        ) from None
    if not isinstance(index, dict) or not isinstance(index.get("_class_name"), str):
        raise VideoModelError(f"model_dir {str(folder)!r}: model_index.json has no _class_name; {what}")
    return folder.resolve(), index


_PIPELINE_CACHE: dict[tuple, Any] = {}
"""The last loaded pipeline, keyed by what was loaded. The video stage builds one backend per sample (each
with its own seed); without this every sample would reload the weights (tens of GB for Wan 14B). One entry
only: loading another model frees the previous one first."""


class DiffusersI2VBackend(VideoBackend):
    """Generate a task video with a diffusers image-to-video pipeline from a local model folder.

    Building the backend checks the packages, the folder and the pipeline choice (cheap: no weights are
    read); the first :meth:`generate` loads the weights, cached on the instance and across instances.
    """

    name = "diffusers"
    config_class = DiffusersVideoConfig

    def __init__(self, config: DiffusersVideoConfig | None = None) -> None:
        super().__init__(config)
        require_models_extra(WHAT, VideoModelError, "torch", "diffusers", "transformers")
        # diffusers (the models extra, seconds to import) only when this backend is built: the registry that
        # lists it is loaded by every video run, procedural ones included.
        import diffusers

        self.model_dir, index = read_model_index(self.config.model_dir)
        found = index["_class_name"]
        if self.config.pipeline is not None:
            self.pipeline_name = self.config.pipeline
        elif PIPELINE_ALIASES.get(found, found) in I2V_PIPELINES:
            self.pipeline_name = PIPELINE_ALIASES.get(found, found)
        else:
            raise VideoModelError(
                f"model_dir {str(self.model_dir)!r} holds a {found}, which is not an image-to-video pipeline "
                f"this backend drives; set pipeline to one of {', '.join(sorted(I2V_PIPELINES))} if the "
                "folder's components suit it, or point model_dir at an I2V checkpoint"
            )
        self.spec = I2V_PIPELINES[self.pipeline_name]
        check_shape_for(self.config, self.pipeline_name)
        require_models_extra(WHAT, VideoModelError, *self.spec.packages)
        if not hasattr(diffusers, self.pipeline_name):
            raise VideoModelError(
                f"diffusers {diffusers.__version__} has no {self.pipeline_name}; upgrade it: "
                f"`.venv/bin/pip install -U diffusers` (then keep the `models` extra's pin in step)"
            )

        device = pick_device(self.config.device, VideoModelError)
        self.device = device
        dtype = self.config.dtype
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        self.dtype = dtype
        self.fps = float(self.config.fps if self.config.fps is not None else self.spec.native_fps)
        self._pipeline: Any = None

    @property
    def pipeline(self) -> Any:
        """The loaded diffusers pipeline (loaded on first use)."""
        if self._pipeline is None:
            self._pipeline = self._load()
        return self._pipeline

    def _load(self) -> Any:
        # torch and diffusers (the models extra) only when the weights load: the video package needs neither.
        import diffusers
        import torch

        index_mtime = (self.model_dir / "model_index.json").stat().st_mtime_ns
        key = (str(self.model_dir), index_mtime, self.pipeline_name, self.device, self.dtype)
        if key in _PIPELINE_CACHE:
            return _PIPELINE_CACHE[key]
        _PIPELINE_CACHE.clear()
        pipeline_class = getattr(diffusers, self.pipeline_name)
        try:
            pipe = pipeline_class.from_pretrained(
                str(self.model_dir), dtype=getattr(torch, self.dtype), local_files_only=True
            )
            pipe.to(self.device)
        except Exception as exc:
            # diffusers and transformers raise many types for a bad folder (OSError, ValueError, KeyError,
            # TypeError...); what the user needs is which folder, which pipeline, and the original reason.
            raise VideoModelError(
                f"model_dir {str(self.model_dir)!r}: cannot load {self.pipeline_name} on {self.device} "
                f"as {self.dtype}: {type(exc).__name__}: {exc}"
            ) from exc
        _PIPELINE_CACHE[key] = pipe
        return pipe

    def generate(self, scene: ScenePackage) -> GeneratedVideo:
        """Generate ``num_frames`` frames of ``height`` × ``width`` from the scene's image and prompt."""
        # torch (the models extra) only when a video is generated: the video package imports without it.
        import torch

        config = self.config
        pipe = self.pipeline
        image = Image.fromarray(scene.rgb).resize((config.width, config.height), Image.Resampling.BICUBIC)
        kwargs: dict[str, Any] = {
            "image": image,
            "prompt": scene.prompt,
            "height": config.height,
            "width": config.width,
            "num_frames": config.num_frames,
            "num_inference_steps": config.num_inference_steps,
            "generator": torch.Generator("cpu").manual_seed(config.seed),
            "output_type": "np",
        }
        if config.negative_prompt:
            kwargs["negative_prompt"] = config.negative_prompt
        if config.guidance_scale is not None:
            kwargs["guidance_scale"] = config.guidance_scale
        if self.spec.fps_argument is not None:
            kwargs[self.spec.fps_argument] = self.fps
        try:
            output = pipe(**kwargs)
        except Exception as exc:
            raise VideoModelError(
                f"task {scene.task_id}: {self.pipeline_name} from {str(self.model_dir)!r} failed to generate "
                f"{config.num_frames} frames of {config.width}x{config.height} on {self.device}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        frames = to_uint8_frames(output.frames)
        expected = (config.num_frames, config.height, config.width, 3)
        if frames.shape != expected:
            raise VideoModelError(
                f"{self.pipeline_name} from {str(self.model_dir)!r} returned {frames.shape[0]} frames of "
                f"{frames.shape[2]}x{frames.shape[1]}, not the configured {config.num_frames} of "
                f"{config.width}x{config.height}: this model's VAE compression or patch size needs other values"
            )
        plan = {
            "backend": self.name,
            "pipeline": self.pipeline_name,
            "model_dir": str(self.model_dir),
            "prompt": scene.prompt,
            "negative_prompt": config.negative_prompt,
            "seed": config.seed,
            "num_frames": config.num_frames,
            "height": config.height,
            "width": config.width,
            "fps": self.fps,
            "num_inference_steps": config.num_inference_steps,
            "guidance_scale": config.guidance_scale,
            "device": self.device,
            "dtype": self.dtype,
        }
        return GeneratedVideo(frames, self.fps, plan)


def to_uint8_frames(frames: Any) -> np.ndarray:
    """A pipeline's ``output_type="np"`` frames (1×T×H×W×3 floats in [0, 1]) → T×H×W×3 uint8."""
    if hasattr(frames, "detach"):
        frames = frames.detach().float().cpu().numpy()
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 5:
        if frames.shape[0] != 1:
            raise VideoModelError(f"expected one video from the pipeline, got {frames.shape[0]}")
        frames = frames[0]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise VideoModelError(f"the pipeline returned frames of shape {frames.shape}, not T×H×W×3")
    return np.round(np.clip(frames, 0.0, 1.0) * 255.0).astype(np.uint8)
