"""Images named by URL in an import, fetched by the worker: only over http(s), only from public addresses
unless PREFLAB_IMAGE_FETCH_HOSTS lists others (an importer must not make Preflab read its own network:
loopback, private ranges, link-local cloud metadata), no redirects, a time limit, an image type, and never
more bytes than PREFLAB_MAX_IMAGE_MB, whatever the server says its length is."""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from app.core.config import get_settings
from app.core.hosts import host_allowed
from app.media.images import ImageRefused, max_bytes


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx then surfaces as an HTTPError: the address it names is not checked, so not taken


def _check_host(host: str, port: int) -> None:
    allowed = get_settings().image_fetch_hosts
    if host_allowed(host, allowed):
        return
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        raise ImageRefused(f"is at {host}, which does not resolve") from None
    for address in found:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global and not host_allowed(str(ip), allowed):
            raise ImageRefused(
                f"is at {host} ({ip}), a loopback, private or reserved address; Preflab fetches images only "
                "from public hosts unless PREFLAB_IMAGE_FETCH_HOSTS lists it"
            )


def fetch_image(url: str) -> bytes:
    """The bytes at `url` (checked as an image by the caller), or ImageRefused saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageRefused("is not an http(s) URL")
    _check_host(parts.hostname.lower().rstrip("."), parts.port or (443 if parts.scheme == "https" else 80))
    limit = max_bytes()
    request = urllib.request.Request(url, headers={"User-Agent": "Preflab image import", "Accept": "image/*"})
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=get_settings().image_fetch_timeout_s) as response:
            kind = response.headers.get_content_type()
            if not kind.startswith("image/"):
                raise ImageRefused(f"answered {kind}, not an image")
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise ImageRefused(
                    f"is {int(length) / 2**20:.1f} MB; at most {limit / 2**20:g} MB (PREFLAB_MAX_IMAGE_MB)"
                )
            data: bytes = response.read(limit + 1)
    except urllib.error.HTTPError as exc:
        moved = " (redirects are not followed: name the image's own address)" if 300 <= exc.code < 400 else ""
        raise ImageRefused(f"answered HTTP {exc.code}{moved}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageRefused(f"could not be fetched ({str(reason)[:80]})") from None
    if len(data) > limit:
        raise ImageRefused(f"is over {limit / 2**20:g} MB (PREFLAB_MAX_IMAGE_MB)")
    return data
