"""The diffusers image-to-video backend, driven end to end with tiny random pipelines built here.

No weights can be downloaded, so each test model (CogVideoX, LTX-Video and Wan I2V with a few thousand
random parameters, a T5 text encoder and a word-level tokenizer over the prompt's words) is built in the
test, written with ``save_pretrained`` and loaded back through :func:`physworld_core.video.backends.load`,
exactly like a real checkpoint folder. The frames are noise; what is tested is the plumbing: shapes, dtype,
declared fps, seeding, and the errors a user gets.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from physworld_core.video.backends import BACKENDS, load
from physworld_core.video.diffusers_backend import (
    I2V_PIPELINES,
    DiffusersI2VBackend,
    DiffusersVideoConfig,
    VideoModelError,
)

PROMPT_WORDS = ["<pad>", "</s>", "<unk>", "put", "the", "red", "can", "in", "bin"]
TINY = {"height": 32, "width": 64, "num_frames": 9, "num_inference_steps": 2, "device": "cpu"}


def _tokenizer_and_text_encoder():
    """A word-level tokenizer and a 1-layer T5 encoder (d_model 32), built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    vocabulary = {word: index for index, word in enumerate(PROMPT_WORDS)}
    backend = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    text_encoder = T5EncoderModel(
        T5Config(
            vocab_size=len(PROMPT_WORDS),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=1,
            num_heads=4,
            relative_attention_num_buckets=8,
        )
    )
    return tokenizer, text_encoder


def _tiny_ltx():
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )

    tokenizer, text_encoder = _tokenizer_and_text_encoder()
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    return LTXImageToVideoPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )


def _tiny_cogvideox():
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
    )

    tokenizer, text_encoder = _tokenizer_and_text_encoder()
    # Rotary positions only (as in CogVideoX 1.5), so any size works; learned ones fix the size.
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=8,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=2,
        sample_height=2,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=False,
    )
    vae = AutoencoderKLCogVideoX(
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    return CogVideoXImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
    )


def _tiny_wan():
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )

    tokenizer, text_encoder = _tokenizer_and_text_encoder()
    # Wan 2.2 TI2V-5B layout: one transformer, the image enters as latents (no CLIP image encoder).
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=48,
        out_channels=48,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )
    return WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler,
        transformer=transformer,
        expand_timesteps=True,
    )


BUILDERS = {
    "CogVideoXImageToVideoPipeline": _tiny_cogvideox,
    "LTXImageToVideoPipeline": _tiny_ltx,
    "WanImageToVideoPipeline": _tiny_wan,
}


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """pipeline class name → a folder holding a tiny random pipeline of that class (built on first use)."""
    pytest.importorskip("diffusers", reason="needs the models extra: pip install -e '.[models]'")
    import torch

    built = {}

    def get(pipeline: str):
        if pipeline not in built:
            torch.manual_seed(0)
            folder = tmp_path_factory.mktemp(pipeline)
            BUILDERS[pipeline]().save_pretrained(folder)
            built[pipeline] = folder
        return built[pipeline]

    return get


def test_every_registered_pipeline_is_tested():
    assert set(BUILDERS) == set(I2V_PIPELINES)
    assert BACKENDS["diffusers"] is DiffusersI2VBackend


def test_registry_import_does_not_import_diffusers():
    code = (
        "import sys, physworld_core.video.backends as b; assert 'diffusers' in b.BACKENDS; "
        "print(sorted(m for m in ('diffusers', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_config_is_validated():
    with pytest.raises(VideoModelError, match="model_dir is required"):
        DiffusersVideoConfig()
    ok = {"model_dir": "/weights/ltx"}
    assert DiffusersVideoConfig(**ok).num_frames == 49
    for bad, field in [
        ({"pipeline": "StableDiffusionPipeline"}, "pipeline must be one of"),
        ({"pipeline": "LTXImageToVideoPipeline", "num_frames": 48}, "num_frames=48 does not suit"),
        ({"pipeline": "LTXImageToVideoPipeline", "width": 720}, "width=720 does not suit"),
        ({"height": 30}, "height must be a multiple of 8"),
        ({"num_frames": 1}, "num_frames must lie"),
        ({"fps": 0}, "fps must lie"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"guidance_scale": -1.0}, "guidance_scale"),
        ({"device": "gpu"}, "device must be"),
        ({"dtype": "int8"}, "dtype must be"),
        ({"seed": -1}, "seed must be"),
    ]:
        with pytest.raises(ValueError, match=field):
            DiffusersVideoConfig(**ok, **bad)


def test_missing_models_extra_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # what `import diffusers` sees when it is absent
    with pytest.raises(VideoModelError, match=r"import diffusers .*pip install -e '\.\[models\]'"):
        load("diffusers", {"model_dir": str(tmp_path)})


def test_missing_or_invalid_model_dir_names_the_field(tmp_path):
    pytest.importorskip("diffusers", reason="needs the models extra: pip install -e '.[models]'")
    with pytest.raises(VideoModelError, match=r"model_dir .*does not exist.*model_index\.json"):
        load("diffusers", {"model_dir": str(tmp_path / "absent")})
    with pytest.raises(VideoModelError, match=r"model_dir .*has no model_index\.json"):
        load("diffusers", {"model_dir": str(tmp_path)})
    (tmp_path / "model_index.json").write_text("{not json")
    with pytest.raises(VideoModelError, match=r"model_index\.json is unreadable"):
        load("diffusers", {"model_dir": str(tmp_path)})
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(
        VideoModelError, match=r"StableDiffusionPipeline, which is not an image-to-video.*set pipeline"
    ):
        load("diffusers", {"model_dir": str(tmp_path)})


@pytest.mark.parametrize("pipeline", sorted(BUILDERS))
def test_generates_declared_frames_reproducibly(pipeline, tiny_model_dir, default_scene):
    scene = default_scene.scene
    folder = tiny_model_dir(pipeline)
    backend = load("diffusers", {"model_dir": str(folder), **TINY, "seed": 3})
    assert backend.pipeline_name == pipeline  # read from model_index.json
    video = backend.generate(scene)

    assert video.frames.shape == (9, 32, 64, 3) and video.frames.dtype == np.uint8
    assert video.fps == I2V_PIPELINES[pipeline].native_fps
    assert video.size == (64, 32)
    assert video.plan["backend"] == "diffusers" and video.plan["pipeline"] == pipeline
    assert video.plan["prompt"] == scene.prompt and video.plan["seed"] == 3
    assert video.plan["model_dir"] == str(folder.resolve())
    assert "transforms_world" not in video.plan

    again = load("diffusers", {"model_dir": str(folder), **TINY, "seed": 3})
    assert again.pipeline is backend.pipeline  # weights loaded once for all samples
    np.testing.assert_array_equal(again.generate(scene).frames, video.frames)
    other_config = {"model_dir": str(folder), **TINY, "seed": 4, "fps": 10.0, "negative_prompt": "the bin"}
    other = load("diffusers", other_config).generate(scene)
    assert other.fps == 10.0 and other.plan["negative_prompt"] == "the bin"
    assert not np.array_equal(other.frames, video.frames)


def test_frame_count_is_checked_against_the_model_dirs_pipeline(tiny_model_dir):
    folder = tiny_model_dir("LTXImageToVideoPipeline")
    with pytest.raises(
        ValueError, match=r"num_frames=13 does not suit LTXImageToVideoPipeline.*e\.g\. 9 or 17"
    ):
        load("diffusers", {"model_dir": str(folder), **TINY, "num_frames": 13})


def test_text_to_video_ltx_folder_loads_as_image_to_video(tiny_model_dir, tmp_path):
    folder = tmp_path / "ltx"
    shutil.copytree(tiny_model_dir("LTXImageToVideoPipeline"), folder)
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": "LTXPipeline"}))
    assert load("diffusers", {"model_dir": str(folder), **TINY}).pipeline_name == "LTXImageToVideoPipeline"


def test_wan_without_ftfy_says_what_to_install(tiny_model_dir, monkeypatch):
    folder = tiny_model_dir("WanImageToVideoPipeline")
    monkeypatch.setitem(sys.modules, "ftfy", None)
    with pytest.raises(VideoModelError, match=r"import ftfy .*\.\[models\]"):
        load("diffusers", {"model_dir": str(folder), **TINY})
