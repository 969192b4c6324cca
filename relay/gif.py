"""Frame counting for GIF images (animated_gif), with Pillow.

Pillow walks the GIF's image blocks without decoding pixels when asked for `n_frames`; a
broken or truncated image counts as what could be read, never as an error.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError


def gif_frames(data: bytes, limit: int = 2) -> int:
    """Number of frames in a GIF (at most `limit`; 0 when the data is not a readable GIF)."""
    try:
        with Image.open(io.BytesIO(data), formats=("GIF",)) as img:
            frames = 1
            while frames < limit:
                try:
                    img.seek(frames)
                except EOFError:
                    break
                frames += 1
            return frames
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 0
