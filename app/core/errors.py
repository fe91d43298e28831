"""Domain errors. Web layers map them to HTTP in one place (app/web/errors.py)."""

from __future__ import annotations

from typing import Any


class PreflabError(Exception):
    status_code = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(PreflabError):
    status_code = 404


class Forbidden(PreflabError):
    status_code = 403


class NotAuthenticated(PreflabError):
    status_code = 401


class Conflict(PreflabError):
    status_code = 409


class InvalidInput(PreflabError):
    status_code = 422


class TooManyRequests(PreflabError):
    status_code = 429


class ImportRejected(InvalidInput):
    """A file with bad rows: nothing was imported."""

    def __init__(self, errors: list[dict[str, Any]], total_errors: int) -> None:
        shown = len(errors)
        more = f" (first {shown} shown)" if total_errors > shown else ""
        super().__init__(f"{total_errors} bad row(s){more}; nothing was imported. Fix them and upload again.")
        self.errors = errors
        self.total_errors = total_errors
