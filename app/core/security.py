"""Password hashing, API tokens, CSRF tokens, device cookies."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.core.config import get_settings

_hasher = PasswordHasher()
# Verifying against this keeps an unknown e-mail as slow as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("preflab-dummy-password")

TOKEN_PREFIX = "pfl_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (and lets lookups use an index).
    return hashlib.sha256(token.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def password_stamp(password_hash: str | None) -> str:
    """A short keyed digest of a user's password hash, kept in their session cookie: changing the
    password makes every other session's stamp stale. The cookie is signed but readable, so it carries
    this and never the hash itself."""
    key = get_settings().resolved_secret_key.encode()
    return hmac.new(key, (password_hash or "").encode(), hashlib.sha256).hexdigest()[:16]


def pseudonym(project_id: int, user_id: int | None) -> str | None:
    """A person's stable name within one project (exports, reviews, dashboards), not reversible without
    the instance's secret: the same annotator reads the same everywhere in the project."""
    if user_id is None:
        return None
    key = f"{get_settings().resolved_secret_key}:{project_id}".encode()
    return f"annotator-{hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:10]}"


# A device cookie says "this browser has signed in as these users before" (OWASP's device cookies): a
# signed map of user id -> a random nonce, set on each successful login. Logins from such a browser are
# counted against the device, not the account (app/auth/throttle.py). A few users per browser at most.
DEVICE_COOKIE = "preflab_device"
DEVICE_COOKIE_MAX_AGE_S = 365 * 24 * 3600
DEVICE_USERS_MAX = 5


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key, salt="preflab-device")


def read_device_cookie(raw: str | None) -> dict[int, str]:
    """The users this browser has signed in as, with their nonces; {} for a missing, forged or old cookie."""
    if not raw or len(raw) > 4096:
        return {}
    try:
        data = _device_signer().loads(raw, max_age=DEVICE_COOKIE_MAX_AGE_S)
    except BadSignature:
        return {}
    if not isinstance(data, dict):
        return {}
    return {int(k): v for k, v in data.items() if str(k).isdigit() and isinstance(v, str) and v}


def device_cookie_with(devices: dict[int, str], user_id: int) -> str:
    """The cookie after `user_id` signed in: their nonce kept (or a new one), first; the oldest dropped."""
    entries = {user_id: devices.get(user_id) or secrets.token_urlsafe(16)}
    for uid, nonce in devices.items():
        if len(entries) < DEVICE_USERS_MAX:
            entries.setdefault(uid, nonce)
    return _device_signer().dumps({str(uid): nonce for uid, nonce in entries.items()})
