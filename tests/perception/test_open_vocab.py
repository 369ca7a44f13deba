"""Text-prompted segmentation backends and the mask → object matcher (``perception.open_vocab``).

The geometric backend runs on the shared synthetic scene (red can right, blue box middle, grey bin left),
whose ray-caster also gives the true per-pixel object masks. The CLIPSeg backend runs a tiny random model
built here: a CLIP tokenizer from a vocabulary and merges written in the test, a ViT image processor, and a
CLIPSeg with a few thousand parameters, saved with ``save_pretrained`` and loaded back like a real folder.
Its masks are noise; what is tested is shapes, types, determinism and the errors.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from physworld_core.errors import GroundingError
from physworld_core.perception.open_vocab import (
    SEGMENTERS,
    MaskMatchError,
    SegmentationModelError,
    load,
    locate_phrase,
    match_mask_to_object,
    read_noun_phrase,
)
from physworld_core.perception.plane import fit_support_plane
from physworld_core.perception.segment import segment_objects


@pytest.fixture(scope="module")
def objects(default_scene):
    scene = default_scene.scene
    return segment_objects(scene, fit_support_plane(scene))


def _by_colour(objects, colour):
    (found,) = [o for o in objects if o.colour == colour]
    return found


def test_read_noun_phrase():
    assert read_noun_phrase("the red soda can") == ("red", "cylinder")
    assert read_noun_phrase("A Blue box.") == ("blue", "box")
    assert read_noun_phrase("trash bin") == (None, "container")
    assert read_noun_phrase("the green one") == ("green", None)
    assert read_noun_phrase("red") == ("red", None)
    with pytest.raises(GroundingError, match="several colours"):
        read_noun_phrase("the red blue can")
    with pytest.raises(GroundingError, match="names neither.*clipseg"):
        read_noun_phrase("the Coca-Cola thingamajig")
    with pytest.raises(GroundingError, match="names neither"):
        read_noun_phrase("the object")


def test_geometric_backend_finds_the_named_object(default_scene, objects):
    scene = default_scene.scene
    segmenter = load("geometric")
    mask, score = segmenter.segment_phrase(scene.rgb, "the red can", scene)
    assert mask.shape == (128, 128) and mask.dtype == bool
    assert score == 1.0
    np.testing.assert_array_equal(mask, _by_colour(objects, "red").mask)
    truth = default_scene.mask("can")
    assert (mask & truth).sum() / (mask | truth).sum() > 0.8

    mask, score = segmenter.segment_phrase(scene.rgb, "the grey bin", scene)
    np.testing.assert_array_equal(mask, _by_colour(objects, "grey").mask)
    _, box_score = segmenter.segment_phrase(scene.rgb, "the blue can", scene)  # colour right, shape soft
    assert 0.0 < box_score < 1.0
    mask, score = segmenter.segment_phrase(scene.rgb, "the green cup", scene)
    assert not mask.any() and score == 0.0


def test_geometric_backend_refuses_ties_and_other_images(default_scene, synth):
    twins = synth.render(
        [
            synth.Cylinder("left", (0.0, -0.12), radius=0.033, height=0.12, rgb=synth.RED),
            synth.Cylinder("right", (0.0, 0.12), radius=0.033, height=0.12, rgb=synth.RED),
        ],
        prompt="put the red can on the red can",
    ).scene
    with pytest.raises(GroundingError, match="'the red can' matches 2 objects equally well"):
        load("geometric").segment_phrase(twins.rgb, "the red can", twins)
    scene = default_scene.scene
    segmenter = load("geometric")
    with pytest.raises(ValueError, match="only segment the scene's own RGB-D frame"):
        segmenter.segment_phrase(scene.rgb[:, ::-1].copy(), "the red can", scene)
    with pytest.raises(ValueError, match="needs the scene"):
        segmenter.segment_phrase(scene.rgb, "the red can")
    with pytest.raises(GroundingError, match="phrase to segment is empty"):
        segmenter.segment_phrase(scene.rgb, "  ", scene)


def test_mask_is_matched_to_the_right_object_or_refused(default_scene, objects):
    can_truth = default_scene.mask("can")
    match = match_mask_to_object(can_truth, objects)
    assert match.object is _by_colour(objects, "red")
    assert match.iou > 0.8 and set(match.ious) == {o.index for o in objects}
    assert match.to_dict()["object"] == "red cylinder"

    box_truth = default_scene.mask("box")
    bleeding = box_truth | np.roll(box_truth, 3, axis=1)  # a model's mask spilling over an edge
    assert match_mask_to_object(bleeding, objects).object is _by_colour(objects, "blue")

    corner = np.zeros_like(can_truth)
    corner[:10, :10] = True  # table only
    with pytest.raises(MaskMatchError, match=r"matches no object: its best IoU is 0\.00 \(need 0\.30\)"):
        match_mask_to_object(corner, objects)
    everything = np.ones_like(can_truth)  # "contains" every object, is none of them
    with pytest.raises(MaskMatchError, match="red cylinder"):
        match_mask_to_object(everything, objects)
    with pytest.raises(MaskMatchError, match="no objects"):
        match_mask_to_object(can_truth, [])
    with pytest.raises(ValueError, match="H×W bool"):
        match_mask_to_object(can_truth.astype(np.uint8), objects)
    with pytest.raises(ValueError, match="min_iou"):
        match_mask_to_object(can_truth, objects, min_iou=0.0)


def test_locate_phrase(default_scene, objects):
    scene = default_scene.scene
    match, score = locate_phrase(load("geometric"), scene, "red can", objects)
    assert match.object is _by_colour(objects, "red") and match.iou == 1.0 and score == 1.0
    with pytest.raises(GroundingError, match="finds nothing for 'the green cup'.*red cylinder"):
        locate_phrase(load("geometric"), scene, "the green cup", objects)


def test_registry_and_config_errors(tmp_path):
    assert {"geometric", "clipseg"} <= set(SEGMENTERS)
    with pytest.raises(ValueError, match="unknown segmentation backend 'sam'"):
        load("sam")
    with pytest.raises(ValueError, match="has no setting"):
        load("geometric", threshold=0.5)
    with pytest.raises(SegmentationModelError, match="model_dir is required"):
        load("clipseg")
    with pytest.raises(ValueError, match="threshold"):
        load("clipseg", model_dir=str(tmp_path), threshold=1.5)


# --- CLIPSeg with tiny random weights ----------------------------------------------------------------------

WORDS = ["the", "red", "can", "blue", "box", "grey", "bin"]


def _write_clip_vocabulary(folder) -> tuple[str, str]:
    """A byte-level BPE vocabulary that spells each of WORDS as one token (plus single characters)."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in sorted(set("".join(WORDS))):
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    merges = []
    for word in WORDS:
        pieces = [*word[:-1], word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append(f"{pieces[0]} {pieces[1]}")
            pieces = [pieces[0] + pieces[1], *pieces[2:]]
            vocab.setdefault(pieces[0], len(vocab))
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab))
    merges_path.write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return str(vocab_path), str(merges_path)


@pytest.fixture(scope="module")
def tiny_clipseg(tmp_path_factory):
    pytest.importorskip("transformers", reason="needs the models extra: pip install -e '.[models]'")
    import torch
    from transformers import (
        CLIPSegConfig,
        CLIPSegForImageSegmentation,
        CLIPSegProcessor,
        CLIPTokenizer,
        ViTImageProcessor,
    )

    work = tmp_path_factory.mktemp("clip_vocab")
    tokenizer = CLIPTokenizer(*_write_clip_vocabulary(work))
    assert len(tokenizer("the red can")["input_ids"]) == 5  # start, three words, end
    config = CLIPSegConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
        reduce_dim=8,
        extract_layers=[1],
        decoder_num_attention_heads=2,
        decoder_intermediate_size=16,
        conditional_layer=0,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("clipseg")
    CLIPSegForImageSegmentation(config).save_pretrained(folder)
    image_processor = ViTImageProcessor(
        size={"height": 32, "width": 32}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]
    )
    CLIPSegProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def test_clipseg_backend_returns_a_mask_and_a_score(tiny_clipseg, default_scene):
    scene = default_scene.scene
    segmenter = load("clipseg", model_dir=str(tiny_clipseg))
    mask, score = segmenter.segment_phrase(scene.rgb, "the red can")
    assert mask.shape == (128, 128) and mask.dtype == bool
    assert isinstance(score, float) and 0.0 <= score <= 1.0
    again, again_score = load("clipseg", model_dir=str(tiny_clipseg)).segment_phrase(scene.rgb, "the red can")
    np.testing.assert_array_equal(again, mask)
    assert again_score == score
    other, _ = segmenter.segment_phrase(np.zeros((40, 56, 3), np.uint8), "blue box")  # any image size
    assert other.shape == (40, 56)
    everything, _ = load("clipseg", model_dir=str(tiny_clipseg), threshold=1e-6).segment_phrase(
        scene.rgb, "the red can"
    )
    assert everything.all()  # the threshold is applied to the probability map


def test_clipseg_model_dir_errors(tmp_path, tiny_clipseg, monkeypatch):
    with pytest.raises(SegmentationModelError, match=r"model_dir .*absent.* does not exist"):
        load("clipseg", model_dir=str(tmp_path / "absent"))
    with pytest.raises(SegmentationModelError, match=r"has no config\.json"):
        load("clipseg", model_dir=str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "owlv2"}')
    with pytest.raises(SegmentationModelError, match="holds a 'owlv2' model, not CLIPSeg"):
        load("clipseg", model_dir=str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "clipseg"}')  # no weights, no processor
    with pytest.raises(SegmentationModelError, match="cannot load CLIPSeg"):
        load("clipseg", model_dir=str(tmp_path)).segment_phrase(np.zeros((8, 8, 3), np.uint8), "red can")
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(SegmentationModelError, match=r"cannot import transformers .*\.\[models\]"):
        load("clipseg", model_dir=str(tiny_clipseg))
