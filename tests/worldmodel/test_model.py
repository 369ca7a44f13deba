"""The model's pieces: shapes, the L-MTP targets, and the KV cache (same outputs, less time)."""

from __future__ import annotations

import time

import pytest
import torch

from physworld_core.worldmodel.model import (
    Rollout,
    WorldActionModel,
    WorldModelConfig,
    sequence_losses,
)

TINY = WorldModelConfig(
    image_size=16, latent_grid=4, width=32, layers=2, heads=2, lookahead=3, context_frames=4
)


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize(("size", "grid"), [(16, 4), (32, 8), (64, 8), (32, 32)])
def test_autoencoder_round_trips_shapes(size, grid):
    cfg = WorldModelConfig(image_size=size, latent_grid=grid, width=32, heads=2)
    model = WorldActionModel(cfg)
    frames = torch.rand(3, 3, size, size)
    latents = model.encode_frames(frames)
    assert latents.shape == (3, cfg.latent_dim) == (3, 8 * grid * grid)
    assert model.decode_latents(latents).shape == frames.shape


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image_size": 48, "latent_grid": 8}, "power of 2"),
        ({"width": 30, "heads": 4}, "heads of even width"),
        ({"lookahead": 0}, "lookahead must be an int >= 1"),
        ({"context_frames": 1}, "context_frames must be >= 2"),
        ({"fps": 0.0}, "fps must be a positive number"),
    ],
)
def test_config_refuses_shapes_it_cannot_build(changes, message):
    with pytest.raises(ValueError, match=message):
        WorldModelConfig(**changes)


@pytest.mark.parametrize("lookahead", [1, 3])
def test_lmtp_head_predicts_the_next_k_actions(lookahead):
    cfg = WorldModelConfig(image_size=16, latent_grid=4, width=32, layers=2, heads=2, lookahead=lookahead)
    model = WorldActionModel(cfg)
    batch, steps = 2, 5
    latents, actions = torch.randn(batch, steps, cfg.latent_dim), torch.randn(batch, steps, cfg.action_dim)
    valid = torch.ones(batch, steps, dtype=torch.bool)
    hidden = model(model.interleave(latents, actions))
    assert hidden.shape == (batch, 2 * steps, cfg.width)
    assert model.predict_actions(hidden[:, 0::2]).shape == (batch, steps, lookahead, cfg.action_dim)
    assert model.predict_frame(hidden[:, 1::2]).shape == (batch, steps, cfg.latent_dim)

    # A head that outputs a_{t+k} at step t, entry k, has zero action loss (where a_{t+k} exists); the same
    # chunk one step late does not.
    def future(shift):
        def head(h):
            chunk = torch.zeros(batch, steps, lookahead, cfg.action_dim)
            for t in range(steps):
                for k in range(lookahead):
                    if 0 <= t + k + shift < steps:
                        chunk[:, t, k] = actions[:, t + k + shift]
            return chunk

        return head

    model.predict_actions = future(0)
    losses = sequence_losses(model, latents, actions, valid)
    assert losses["action"] == pytest.approx(0.0) and losses["next_action"] == pytest.approx(0.0)
    model.predict_actions = future(-1)
    assert sequence_losses(model, latents, actions, valid)["next_action"] > 0.5
    # no actions (a video clip): only the frame loss
    assert set(sequence_losses(model, latents, None, valid)) == {"frame"}


def test_kv_cache_gives_the_outputs_of_recomputing_the_context():
    """Within the context, each cached step equals a full forward pass over the tokens so far; beyond it
    (the window is cut and refilled twice in 11 steps of a 4-frame context) it equals the same rollout
    recomputing its context every step."""
    torch.manual_seed(0)
    model = WorldActionModel(TINY).eval()
    latents, actions = torch.randn(11, TINY.latent_dim), torch.randn(11, TINY.action_dim)
    cached, recomputed = Rollout(model, use_cache=True), Rollout(model, use_cache=False)
    tokens = []
    with torch.no_grad():
        for t in range(11):
            chunk = cached.observe(latents[t])
            torch.testing.assert_close(chunk, recomputed.observe(latents[t]), atol=1e-5, rtol=0)
            tokens.append(model.frame_tokens(latents[t]))
            if t < TINY.context_frames:  # the first steps against the model run on everything from scratch
                full = model(torch.stack(tokens)[None])[0, -1]
                expected = model.denormalise_actions(model.predict_actions(full))
                torch.testing.assert_close(chunk, expected, atol=1e-5, rtol=0)
            predict = t % 2 == 0  # a policy's step (no frame wanted) and a generator's, in turn
            frame = cached.act(actions[t], predict=predict)
            other = recomputed.act(actions[t], predict=predict)
            tokens.append(model.action_tokens(model.normalise_actions(actions[t])))
            if predict:
                torch.testing.assert_close(frame, other, atol=1e-5, rtol=0)
    assert cached.cache is not None and len(cached.tokens) <= TINY.context_tokens


def test_kv_cache_is_faster_per_step():
    cfg = WorldModelConfig(image_size=16, latent_grid=4, width=128, layers=2, heads=2, context_frames=64)
    torch.manual_seed(0)
    model = WorldActionModel(cfg).eval()
    latents, actions = torch.randn(64, cfg.latent_dim), torch.randn(64, cfg.action_dim)

    def ms_per_step(use_cache: bool) -> float:
        rollout = Rollout(model, use_cache=use_cache)
        start = time.process_time()  # CPU time: what other processes on the shared machine do not inflate
        for t in range(64):
            rollout.observe(latents[t])
            rollout.act(actions[t], predict=False)
        return (time.process_time() - start) / 64 * 1000

    # Best of 7 each, taken in turn.
    times = [(ms_per_step(True), ms_per_step(False)) for _ in range(7)]
    cached, recomputed = min(t[0] for t in times), min(t[1] for t in times)
    assert recomputed > 1.25 * cached, (cached, recomputed)
