"""A small world-action model in PhysGen's form, readable end to end.

Frames and actions share one continuous token space:

* a convolutional **frame autoencoder** turns an ``image_size``² RGB frame into a latent grid
  (``latent_channels`` × ``latent_grid``²), flattened and standardised: the frame's continuous latent;
* a **frame token** is a linear map of that latent to ``width``; an **action token** is a linear map of the
  (standardised) action to the same width; a learned **mask token** stands in for the action of a video clip,
  which has none;
* a **causal transformer** (pre-norm blocks, rotary positions) reads the interleaved sequence
  ``f0 a0 f1 a1 …``;
* two heads read its output: at a frame token ``f_t`` the **action head** predicts the next ``lookahead``
  actions ``a_t … a_t+K-1`` (lookahead multi-token prediction, L-MTP; ``lookahead=1`` is next-action only);
  at an action token ``a_t`` the **frame head** predicts the latent of ``f_t+1``;
* a **KV cache** keeps every layer's keys and values, so step-by-step inference feeds one new token through the
  network instead of the whole context (:class:`Rollout`).

Positions are rotary (relative), so a window cut from the middle of an episode reads like one from its start:
the model trains on windows of ``context_frames`` frames and, at inference, a full context keeps its newest
half and starts over from it (see :class:`Rollout`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from physworld_core.worldmodel.config import WorldModelConfig

FRAME, ACTION = 0, 1
"""Token types (an embedding added to each token says which it is)."""


# --------------------------------------------------------------------------------------------- autoencoder


class FrameAutoencoder(nn.Module):
    """Frames (B, 3, S, S) in [0, 1] ↔ latent grids (B, C, G, G) (decoded values are unbounded, ~[0, 1]: a
    sigmoid output saturates on flat backgrounds and stalls training). One stride-2 convolution per halving of the
    side, channels doubling from ``autoencoder_channels`` (capped at 256); the decoder mirrors it with
    transposed convolutions."""

    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        halvings = int(math.log2(cfg.image_size // cfg.latent_grid))
        channels = [min(cfg.autoencoder_channels * 2**i, 256) for i in range(max(halvings, 1))]
        encoder: list[nn.Module] = []
        in_channels = 3
        for i in range(halvings):
            encoder += [nn.Conv2d(in_channels, channels[i], 4, stride=2, padding=1), nn.GELU()]
            in_channels = channels[i]
        if halvings == 0:
            encoder += [nn.Conv2d(3, channels[0], 3, padding=1), nn.GELU()]
            in_channels = channels[0]
        encoder.append(nn.Conv2d(in_channels, cfg.latent_channels, 3, padding=1))
        self.encoder = nn.Sequential(*encoder)

        decoder: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, in_channels, 3, padding=1), nn.GELU()]
        for i in reversed(range(halvings)):
            out_channels = channels[i - 1] if i > 0 else cfg.autoencoder_channels
            decoder += [nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1), nn.GELU()]
            in_channels = out_channels
        decoder.append(nn.Conv2d(in_channels, 3, 3, padding=1))
        self.decoder = nn.Sequential(*decoder)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        return self.encoder(frames)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents)


def frames_to_tensor(frames: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """(..., H, W, 3) uint8 → (..., 3, H, W) float in [0, 1]."""
    if isinstance(frames, np.ndarray) and not frames.flags.writeable:
        frames = frames.copy()  # torch wants writable memory (a scene's image is frozen)
    x = torch.as_tensor(frames, device=device)
    return x.movedim(-1, -3).float() / 255.0


def tensor_to_frames(x: torch.Tensor) -> np.ndarray:
    """(..., 3, H, W) float in [0, 1] → (..., H, W, 3) uint8."""
    return (x.detach().clamp(0, 1).movedim(-3, -1) * 255.0).round().byte().cpu().numpy()


# --------------------------------------------------------------------------------------------- transformer


def rotary_angles(positions: torch.Tensor, head_width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (T, head_width / 2) of the rotary angles at integer ``positions`` (T,)."""
    half = head_width // 2
    freqs = 1.0 / (10_000 ** (torch.arange(half, device=positions.device, dtype=torch.float32) / half))
    angles = positions.to(torch.float32)[:, None] * freqs[None, :]
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding of ``x`` (B, H, T, D): pairs of channels turn by an angle proportional to
    the token's position, so a query-key product depends only on the two tokens' distance."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class KVCache:
    """Every layer's keys and values of the tokens seen so far (batch-first: (B, H, T, D))."""

    def __init__(self, layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * layers
        self.values: list[torch.Tensor | None] = [None] * layers

    def length(self, layer: int = 0) -> int:
        """Tokens cached at ``layer`` (every layer holds the same ones between forward passes)."""
        return 0 if self.keys[layer] is None else int(self.keys[layer].shape[2])

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this layer's new keys/values and return all of them."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention with rotary positions, then a GELU MLP."""

    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.norm1 = nn.LayerNorm(cfg.width)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        self.norm2 = nn.LayerNorm(cfg.width)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.width, cfg.mlp_ratio * cfg.width),
            nn.GELU(),
            nn.Linear(cfg.mlp_ratio * cfg.width, cfg.width),
        )

    def forward(
        self,
        x: torch.Tensor,
        angles: tuple[torch.Tensor, torch.Tensor],
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=-1)
        q, k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        q, k = rotate(q, *angles), rotate(k, *angles)
        if cache is None:
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            past = cache.length(layer)
            k, v = cache.extend(layer, k, v)
            visible = None  # one new token sees everything cached
            if length > 1:  # new token i sees every cached token and the new tokens up to itself
                visible = torch.ones(length, past + length, dtype=torch.bool, device=x.device).tril(past)
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=visible)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, width))
        return x + self.mlp(self.norm2(x))


class WorldActionModel(nn.Module):
    """The frame autoencoder, token embeddings, causal transformer and the two heads (see the module doc).

    Buffers hold the statistics that standardise latents and actions, so they travel with the weights."""

    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.autoencoder = FrameAutoencoder(cfg)
        self.frame_in = nn.Linear(cfg.latent_dim, cfg.width)
        self.action_in = nn.Linear(cfg.action_dim, cfg.width)
        self.mask_action = nn.Parameter(torch.zeros(cfg.width))
        self.token_type = nn.Embedding(2, cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.width)
        self.frame_head = nn.Linear(cfg.width, cfg.latent_dim)
        self.action_head = nn.Linear(cfg.width, cfg.lookahead * cfg.action_dim)
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_dim))
        self.register_buffer("latent_std", torch.ones(cfg.latent_dim))
        self.register_buffer("action_mean", torch.zeros(cfg.action_dim))
        self.register_buffer("action_std", torch.ones(cfg.action_dim))
        cos, sin = rotary_angles(torch.arange(cfg.context_tokens), cfg.width // cfg.heads)
        self.register_buffer("rotary_cos", cos, persistent=False)
        self.register_buffer("rotary_sin", sin, persistent=False)

    # --- frames and actions ↔ standardised vectors ----------------------------------------------------
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) in [0, 1] → standardised latents (N, latent_dim)."""
        return (self.autoencoder.encode(frames).flatten(1) - self.latent_mean) / self.latent_std

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Standardised latents (..., latent_dim) → frames (..., 3, S, S) in [0, 1]."""
        cfg = self.cfg
        grid = (latents * self.latent_std + self.latent_mean).reshape(
            -1, cfg.latent_channels, cfg.latent_grid, cfg.latent_grid
        )
        frames = self.autoencoder.decode(grid)
        return frames.reshape(*latents.shape[:-1], *frames.shape[1:])

    def normalise_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions - self.action_mean) / self.action_std

    def denormalise_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return actions * self.action_std + self.action_mean

    # --- tokens ---------------------------------------------------------------------------------------
    def frame_tokens(self, latents: torch.Tensor) -> torch.Tensor:
        """Standardised latents (..., latent_dim) → frame tokens (..., width)."""
        return self.frame_in(latents) + self.token_type.weight[FRAME]

    def action_tokens(self, actions: torch.Tensor | None, shape: tuple[int, ...] = ()) -> torch.Tensor:
        """Standardised actions (..., action_dim) → action tokens; ``None``: the mask token, of ``shape``."""
        if actions is None:
            token = self.mask_action.expand(*shape, self.cfg.width)
        else:
            token = self.action_in(actions)
        return token + self.token_type.weight[ACTION]

    def interleave(
        self, latents: torch.Tensor, actions: torch.Tensor | None, action_known: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, T, latent_dim) and (B, T, action_dim) or None → tokens (B, 2T, width): ``f0 a0 f1 a1 …``.

        ``action_known`` (B, T) puts the mask token where an action is unknown (a video clip's frames)."""
        batch, steps = latents.shape[:2]
        frames = self.frame_tokens(latents)
        masked = self.action_tokens(None, (batch, steps))
        if actions is None:
            acts = masked
        else:
            acts = self.action_tokens(actions)
            if action_known is not None:
                acts = torch.where(action_known[..., None], acts, masked)
        return torch.stack([frames, acts], dim=2).reshape(batch, 2 * steps, self.cfg.width)

    # --- transformer ----------------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Tokens (B, N, width) → hidden states (B, N, width). Without a cache the N tokens attend causally
        among themselves; with one, they also attend to everything cached, and are cached in turn."""
        start = cache.length() if cache is not None else 0
        end = start + tokens.shape[1]
        if end <= self.cfg.context_tokens:  # the usual case: the angles are precomputed
            angles = (self.rotary_cos[start:end], self.rotary_sin[start:end])
        else:
            positions = torch.arange(start, end, device=tokens.device)
            angles = rotary_angles(positions, self.cfg.width // self.cfg.heads)
        x = tokens
        for layer, block in enumerate(self.blocks):
            x = block(x, angles, cache, layer)
        return self.norm(x)

    def predict_actions(self, hidden: torch.Tensor) -> torch.Tensor:
        """Hidden states at frame tokens (..., width) → standardised action chunks (..., K, action_dim)."""
        return self.action_head(hidden).unflatten(-1, (self.cfg.lookahead, self.cfg.action_dim))

    def predict_frame(self, hidden: torch.Tensor) -> torch.Tensor:
        """Hidden states at action tokens (..., width) → the next frame's standardised latent."""
        return self.frame_head(hidden)


# ------------------------------------------------------------------------------------------------ losses


def _shift_left(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` (B, T, ...) moved ``k`` steps earlier along T, zero-filled at the end."""
    shifted = torch.zeros_like(x)
    if k < x.shape[1]:
        shifted[:, : x.shape[1] - k] = x[:, k:]
    return shifted


def sequence_losses(
    model: WorldActionModel,
    latents: torch.Tensor,
    actions: torch.Tensor | None,
    frame_valid: torch.Tensor,
    action_known: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Losses of one batch of windows.

    Args:
        latents: (B, T, latent_dim) standardised frame latents.
        actions: (B, T, action_dim) standardised actions, or None (video clips).
        frame_valid: (B, T) which steps hold a real frame (windows are padded at the end).
        action_known: (B, T) which steps hold a real action (None: where ``actions`` is given, every valid
            step).

    Returns ``frame`` (MSE of the next-frame latent, at every action token followed by a real frame),
    ``action`` (MSE over the K-action chunks, each future action counted where it exists) and ``next_action``
    (the chunk's first action alone: what next-action-only training optimises, comparable across K)."""
    cfg = model.cfg
    if action_known is None:
        action_known = frame_valid if actions is not None else torch.zeros_like(frame_valid)
    hidden = model(model.interleave(latents, actions, action_known))
    frame_hidden, action_hidden = hidden[:, 0::2], hidden[:, 1::2]

    predicted = model.predict_frame(action_hidden[:, :-1])
    has_next = frame_valid[:, 1:].float()
    frame_error = ((predicted - latents[:, 1:]) ** 2).mean(-1)
    losses = {"frame": (frame_error * has_next).sum() / has_next.sum().clamp(min=1)}

    if actions is not None and bool(action_known.any()):
        chunks = model.predict_actions(frame_hidden)  # (B, T, K, A)
        # The target of chunk entry k at step t is a_{t+k}, where the window holds it.
        targets = torch.stack([_shift_left(actions, k) for k in range(cfg.lookahead)], dim=2)
        known = torch.stack([_shift_left(action_known.float(), k) for k in range(cfg.lookahead)], dim=2)
        error = ((chunks - targets) ** 2).mean(-1)
        losses["action"] = (error * known).sum() / known.sum().clamp(min=1)
        losses["next_action"] = (error[..., 0] * known[..., 0]).sum() / known[..., 0].sum().clamp(min=1)
    return losses


# ------------------------------------------------------------------------------------------------ inference


class Rollout:
    """Step-by-step closed-loop inference: ``observe`` a frame latent, get the action chunk; ``act`` an action,
    get the predicted next frame latent (or, for a policy, just add the action to the context).

    With ``use_cache`` only the new tokens go through the network, attending to the cached keys and values of
    the earlier ones; without it, the whole context is recomputed (the ablation). An action whose next-frame
    prediction is not wanted (``act(..., predict=False)``) waits and goes through together with the next
    frame: one forward pass per step. When the context is full, its newest half is kept and its keys and
    values are recomputed once (the cache is refilled), so the model always reads a window like the ones it
    was trained on, at a cost spread over ``context_frames / 2`` steps."""

    def __init__(self, model: WorldActionModel, use_cache: bool = True) -> None:
        self.model, self.use_cache = model, use_cache
        self.reset()

    def reset(self) -> None:
        self.tokens: list[torch.Tensor] = []  # the context's input tokens, (width,) each
        self.pending: list[torch.Tensor] = []  # tokens added but not yet run through the network
        self.cache: KVCache | None = None

    def _append(self, token: torch.Tensor) -> None:
        """Add one input token to the context; a full context keeps its newest half (the cache no longer
        matches it and is refilled by the next forward pass)."""
        limit = self.model.cfg.context_tokens
        self.tokens.append(token)
        if len(self.tokens) > limit:
            keep = limit // 2
            if (len(self.tokens) - keep) % 2:  # the kept window starts at a frame token, as in training
                keep -= 1
            self.tokens = self.tokens[-keep:]

    def _run(self, token: torch.Tensor) -> torch.Tensor:
        """Add the pending tokens and ``token`` to the context; the transformer's output at ``token``."""
        new, self.pending = [*self.pending, token], []
        for t in new:
            self._append(t)
        if not self.use_cache:
            return self.model(torch.stack(self.tokens)[None])[0, -1]
        if self.cache is None or self.cache.length() != len(self.tokens) - len(new):
            self.cache = KVCache(self.model.cfg.layers)  # first step, or the window was cut: refill
            return self.model(torch.stack(self.tokens)[None], cache=self.cache)[0, -1]
        return self.model(torch.stack(new)[None], cache=self.cache)[0, -1]

    @torch.no_grad()
    def observe(self, latent: torch.Tensor) -> torch.Tensor:
        """A frame's standardised latent (latent_dim,) → the next K actions, in the data's units (K, A)."""
        hidden = self._run(self.model.frame_tokens(latent))
        return self.model.denormalise_actions(self.model.predict_actions(hidden))

    @torch.no_grad()
    def act(self, action: torch.Tensor | None, predict: bool = True) -> torch.Tensor | None:
        """An action in the data's units (action_dim,), or None (unknown) → the next frame's latent.

        With ``predict=False`` (a policy only needs the next action) nothing is computed now: the action goes
        through the network with the next frame."""
        model = self.model
        token = model.action_tokens(None if action is None else model.normalise_actions(action))
        if not predict:
            self.pending.append(token)
            return None
        return model.predict_frame(self._run(token))


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
