"""How big and how strange an untrusted scene package may be, in one config with stated defaults.

A scene package comes from outside (a user's folder, the lake's inbox). Before anything decodes it, each file
is checked against these limits: a frame the size of a poster, a gigabyte "depth" file or a prompt of twenty
thousand characters would otherwise be accepted and only fail, slowly and expensively, several stages later
(a 6000×6000 frame ran the videos step past 7 minutes at 3–7 GB). Each refusal names the file, what it holds
and the limit, so the user knows what to change; a deployment that needs more raises the limit here, once.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from physworld_core.errors import SceneError

_MIB = 1 << 20


def _size_text(size: int) -> str:
    """``size`` bytes for a person: ``512 bytes``, ``64.0 KiB``, ``1.0 GiB``."""
    if size < 1024:
        return f"{size} bytes"
    for unit, scale in (("GiB", 1 << 30), ("MiB", _MIB), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    raise AssertionError("unreachable")


def quoted(text: str, max_chars: int = 60) -> str:
    """``text`` as a quoted, escaped one-liner for an error message, cut to ``max_chars`` characters.

    Messages that quote user text must stay one readable line: control characters are escaped by ``repr``
    and a long text is cut with the count of what was left out.
    """
    if len(text) <= max_chars:
        return repr(text)
    return f"{text[:max_chars]!r}… ({len(text) - max_chars} more characters)"


@dataclass(frozen=True)
class PackageLimits:
    """Limits on one scene package; every file is checked before it is decoded.

    Args:
        max_image_side: Largest width or height of ``rgb.png``, ``depth.png``, ``depth.npy`` and ``masks.png``
            in pixels (default 4096).
        max_image_pixels: Largest width × height (default 4096 × 4096 = 16,777,216, about 16.8 MP): a 4K
            frame fits; PNG's own header is read first, so a small file claiming a huge image is refused
            before it is decompressed.
        max_file_bytes: Largest size of one image or array file (default 128 MiB: a 4096×4096 float32
            ``depth.npy`` is 64 MiB, an incompressible 4096×4096 RGB PNG about 48 MiB).
        max_text_bytes: Largest size of ``camera.json``, ``prompt.txt`` and ``labels.json`` (default 1 MiB).
        max_prompt_chars: Longest prompt after stripping surrounding white space (default 1,000 characters;
            an instruction is a sentence or two).
        allowed_control_chars: The only control characters (Unicode category Cc) a prompt may hold (default
            newline and tab; a Windows ``\\r\\n`` counts as a newline). NUL, ESC and the like are refused:
            they corrupt logs and terminals and no instruction needs them.
    """

    max_image_side: int = 4096
    max_image_pixels: int = 4096 * 4096
    max_file_bytes: int = 128 * _MIB
    max_text_bytes: int = _MIB
    max_prompt_chars: int = 1000
    allowed_control_chars: str = "\n\t"

    def __post_init__(self) -> None:
        for name in (
            "max_image_side",
            "max_image_pixels",
            "max_file_bytes",
            "max_text_bytes",
            "max_prompt_chars",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"PackageLimits.{name} must be a positive integer, got {value!r}")
        if self.max_image_pixels < self.max_image_side:
            raise ValueError(
                f"PackageLimits.max_image_pixels ({self.max_image_pixels}) is smaller than max_image_side "
                f"({self.max_image_side}): no image of the allowed side could fit"
            )
        chars = self.allowed_control_chars
        if not isinstance(chars, str) or any(unicodedata.category(c) != "Cc" for c in chars):
            raise ValueError(
                f"PackageLimits.allowed_control_chars must be a string of control characters, got {chars!r}"
            )

    def check_file_size(self, label: str, size: int, *, text: bool) -> None:
        """Refuse a file of ``size`` bytes over the limit of its kind (``text``: JSON and prompt files)."""
        limit = self.max_text_bytes if text else self.max_file_bytes
        if size > limit:
            raise SceneError(
                f"{label} is {_size_text(size)}; the limit for this file is {_size_text(limit)} "
                f"(PackageLimits.{'max_text_bytes' if text else 'max_file_bytes'})"
            )

    def check_image_size(self, label: str, width: int, height: int) -> None:
        """Refuse an image of ``width`` × ``height`` pixels beyond the side or pixel-count limit."""
        if width < 1 or height < 1:
            raise SceneError(f"{label} is {width}x{height} pixels: an image needs at least one pixel")
        if max(width, height) > self.max_image_side:
            raise SceneError(
                f"{label} is {width}x{height} pixels; the limit is {self.max_image_side} pixels a side "
                "(PackageLimits.max_image_side): downscale the capture and its intrinsics"
            )
        if width * height > self.max_image_pixels:
            raise SceneError(
                f"{label} is {width}x{height} = {width * height:,} pixels; the limit is "
                f"{self.max_image_pixels:,} (PackageLimits.max_image_pixels): downscale the capture and its "
                "intrinsics"
            )

    def check_prompt(self, prompt: str, label: str = "prompt") -> str:
        """The prompt stripped of surrounding white space (``\\r\\n`` read as ``\\n``), or a :class:`SceneError`
        naming the first control character or the length over the limit. An empty prompt is refused too."""
        if not isinstance(prompt, str):
            raise SceneError(f"{label} must be text, got {type(prompt).__name__}")
        text = prompt.replace("\r\n", "\n").strip()
        if not text:
            raise SceneError(f"{label}: the prompt is empty")
        for index, char in enumerate(text):
            if unicodedata.category(char) == "Cc" and char not in self.allowed_control_chars:
                raise SceneError(
                    f"{label} holds the control character U+{ord(char):04X} at character {index + 1} "
                    f"(near {quoted(text[max(0, index - 20) : index + 20], 40)}); only "
                    f"{', '.join(_control_name(c) for c in self.allowed_control_chars) or 'none'} may appear"
                )
        if len(text) > self.max_prompt_chars:
            raise SceneError(
                f"{label} is {len(text):,} characters; the limit is {self.max_prompt_chars:,} "
                f"(PackageLimits.max_prompt_chars): it starts {quoted(text, 60)}"
            )
        return text


def _control_name(char: str) -> str:
    return {"\n": "newline", "\t": "tab", "\r": "carriage return"}.get(char, f"U+{ord(char):04X}")
