"""Images in tasks: checked by decoding them (Pillow), stored once in the data dir under their content
hash, and linked to the projects whose tasks show them (ProjectImage), which is what lets a project's
members, and only they, fetch one.

A task with images holds them in `meta["images"]`, in the order of the `<image>` placeholders in its
messages' text (the LLaMA-Factory and TRL convention): `{"sha256", "type", "width", "height", "bytes"}`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import uuid
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.models import ProjectImage, utcnow

PLACEHOLDER = "<image>"
TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_DATA_URI = re.compile(r"^data:(image/[a-z0-9.+-]+)?(;[a-z0-9=.+-]+)*?;base64,", re.IGNORECASE)
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ImageRefused(ValueError):
    """An image that cannot be kept; str(err) says why (the import adds the row and the file)."""


@dataclass(frozen=True, slots=True)
class CheckedImage:
    data: bytes
    sha256: str
    type: str
    width: int
    height: int

    def ref(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "type": self.type, "width": self.width, "height": self.height,
                "bytes": len(self.data)}  # fmt: skip


def max_bytes() -> int:
    return int(get_settings().max_image_mb * 2**20)


def check_image(data: bytes) -> CheckedImage:
    """The image, decoded in full to prove it is one, or ImageRefused: too large (in bytes, or in pixels
    before anything is decoded: a decompression bomb), not an image, an unsupported format, or broken."""
    settings = get_settings()
    if len(data) > max_bytes():
        raise ImageRefused(
            f"is {len(data) / 2**20:.1f} MB; images may be at most {settings.max_image_mb:g} MB "
            "(PREFLAB_MAX_IMAGE_MB)"
        )
    if not data:
        raise ImageRefused("is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or ""
                width, height = image.size
                if width * height > settings.max_image_pixels:
                    raise ImageRefused(
                        f"is {width} x {height} pixels; images may have at most "
                        f"{settings.max_image_pixels:,} "
                        "(PREFLAB_MAX_IMAGE_PIXELS)"
                    )
                if fmt not in TYPES:
                    raise ImageRefused(f"is a {fmt or 'unknown'} image; use PNG, JPEG, WebP or GIF")
                image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(
            f"decodes to too many pixels; images may have at most {settings.max_image_pixels:,} "
            "(PREFLAB_MAX_IMAGE_PIXELS)"
        ) from None
    except UnidentifiedImageError:
        raise ImageRefused("is not an image Preflab can read (PNG, JPEG, WebP or GIF)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRefused(f"is not a readable image ({str(exc)[:80]})") from None
    return CheckedImage(data, hashlib.sha256(data).hexdigest(), TYPES[fmt], width, height)


def decode_data_uri(value: str) -> bytes:
    """The bytes of a base64 `data:image/...` URI (checked as an image afterwards)."""
    match = _DATA_URI.match(value)
    if match is None:
        raise ImageRefused("is a data URI that is not base64 image data (data:image/png;base64,…)")
    body = value[match.end() :]
    if len(body) > max_bytes() * 4 // 3 + 4:
        raise ImageRefused(f"is over {get_settings().max_image_mb:g} MB (PREFLAB_MAX_IMAGE_MB)")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRefused("is a data URI whose base64 does not decode") from None


def path_of(sha256: str) -> Path:
    return get_settings().images_dir / sha256[:2] / sha256


def store(image: CheckedImage) -> None:
    """Write the file once (content-addressed: the same image from two imports is one file); written to a
    temporary name and renamed, so a reader never sees half a file."""
    path = path_of(image.sha256)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_bytes(image.data)
    os.replace(tmp, path)


def link(session: Session, project_id: int, refs: Iterable[dict[str, Any]]) -> None:
    """Let the project show these images (inside the caller's transaction: a refused import links none)."""
    wanted = {ref["sha256"]: ref for ref in refs}
    if not wanted:
        return
    have = set(
        session.scalars(
            select(ProjectImage.sha256).where(
                ProjectImage.project_id == project_id, ProjectImage.sha256.in_(list(wanted))
            )
        )
    )
    now = utcnow()
    session.add_all(
        ProjectImage(project_id=project_id, sha256=sha, type=ref["type"], bytes=ref["bytes"],
                     width=ref["width"], height=ref["height"], created_at=now)
        for sha, ref in wanted.items() if sha not in have
    )  # fmt: skip
    session.flush()


def image_of(session: Session, project_id: int, sha256: str) -> ProjectImage | None:
    """The project's image, or None when the project shows no such image (or the file is gone)."""
    if not SHA256.match(sha256):
        return None
    found = session.get(ProjectImage, (project_id, sha256))
    if found is None or not path_of(sha256).is_file():
        return None
    return found
