"""The one exception the sandbox's API views raise: a refusal rendered in the error variant."""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """A refusal with its status, a message, optional field errors and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        field_errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field_errors = dict(field_errors or {})
        self.headers = dict(headers or {})
