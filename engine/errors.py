"""What an engine operation refuses, with the HTTP status every surface answers it by."""

from __future__ import annotations


class ActionError(Exception):
    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, **extra: object):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(ActionError):
    status = 400
    title = "INVALID_ARGUMENT"


class NotFound(ActionError):
    status = 404
    title = "NOT_FOUND"


class Conflict(ActionError):
    status = 409
    title = "INVALID_STATE"


class Forbidden(ActionError):
    """The caller's role does not allow this act (engine.rights); nothing was changed."""

    status = 403
    title = "FORBIDDEN"


class Unauthorized(ActionError):
    status = 401
    title = "UNAUTHORIZED"


class TooLarge(ActionError):
    status = 413
    title = "PAYLOAD_TOO_LARGE"


class RateLimited(ActionError):
    status = 429
    title = "TOO_MANY_REQUESTS"

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


class Overloaded(ActionError):
    """Backpressure (engine/backpressure.py): the engine is saturated; nothing was started."""

    status = 503
    title = "RESOURCE_EXHAUSTED"

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


class Unprocessable(ActionError):
    status = 422
    title = "INVALID_INPUT"


class Gone(ActionError):
    """It existed and was switched off on purpose (a deactivated flow's webhook)."""

    status = 410
    title = "GONE"
