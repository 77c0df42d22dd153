"""The gateway's exception tree.

Services raise these; one renderer per API surface turns them into that
surface's error shape (see ``gateway.views.rendering``). Vendor exceptions are
translated into this tree at the provider boundary with ``raise ... from exc``,
so nothing above the providers imports a vendor SDK's exceptions.

    GatewayError
    ├── ClientError                  the caller's fault, never retried
    │   ├── InvalidRequest           400
    │   ├── AuthenticationFailed     401
    │   ├── PermissionDenied         403
    │   ├── NotFound                 404
    │   ├── PayloadTooLarge          413
    │   └── RateLimited              429 (limits and budgets)
    └── UpstreamError                the provider failed or refused
        ├── UpstreamRejected         the upstream's 4xx, passed on with its message
        ├── UpstreamMisconfigured    the gateway's own key refused: 502, no details
        ├── UpstreamUnavailable      5xx, 529, 429, connection failure: retryable
        ├── UpstreamTimeout          no answer in time: retryable, 504
        └── StreamInterrupted        failed after the first byte reached the client
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway renders to a client."""

    status = 500
    anthropic_type = "api_error"
    openai_type = "server_error"
    default_message = "The gateway could not complete the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.param = param
        self.code = code
        self.headers = dict(headers or {})
        super().__init__(self.message)


class ClientError(GatewayError):
    status = 400
    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"


class InvalidRequest(ClientError):
    default_message = "The request is not valid."


class AuthenticationFailed(ClientError):
    status = 401
    anthropic_type = "authentication_error"
    openai_type = "authentication_error"
    default_message = "A valid gateway key is required."


class PermissionDenied(ClientError):
    status = 403
    anthropic_type = "permission_error"
    openai_type = "permission_error"
    default_message = "This key is not allowed to do that."


class NotFound(ClientError):
    status = 404
    anthropic_type = "not_found_error"
    openai_type = "not_found_error"
    default_message = "Not found."


class PayloadTooLarge(ClientError):
    status = 413
    anthropic_type = "request_too_large"
    openai_type = "invalid_request_error"
    default_message = "The request body is too large."


class RateLimited(ClientError):
    status = 429
    anthropic_type = "rate_limit_error"
    openai_type = "rate_limit_error"
    default_message = "Rate limit exceeded."

    def __init__(self, message: str, *, retry_after: int, code: str, **kwargs) -> None:
        headers = kwargs.pop("headers", None) or {}
        headers["Retry-After"] = str(max(1, retry_after))
        super().__init__(message, code=code, headers=headers, **kwargs)
        self.retry_after = max(1, retry_after)


class UpstreamError(GatewayError):
    """A provider failed. ``retryable`` drives retries, breakers and failover."""

    status = 502
    anthropic_type = "api_error"
    openai_type = "server_error"
    retryable = False
    default_message = "The upstream model provider failed."

    def __init__(
        self,
        message: str | None = None,
        *,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(message, **kwargs)
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class UpstreamRejected(UpstreamError):
    """The upstream refused the request itself (its 400, 404, 413...)."""

    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"

    def __init__(self, message: str, *, status: int, anthropic_type: str, **kwargs):
        super().__init__(message, upstream_status=status, **kwargs)
        self.status = status if status in (400, 404, 413) else 400
        self.anthropic_type = anthropic_type
        if self.status == 404:
            self.openai_type = "not_found_error"


class UpstreamMisconfigured(UpstreamError):
    status = 502
    default_message = (
        "The gateway's upstream credentials were refused; the operator has been alerted."
    )


class UpstreamUnavailable(UpstreamError):
    status = 503
    anthropic_type = "overloaded_error"
    retryable = True
    default_message = "The upstream model provider is unavailable."

    def __init__(self, message: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        if self.upstream_status == 429:
            self.status, self.anthropic_type = 429, "rate_limit_error"
            self.openai_type = "rate_limit_error"
        elif self.upstream_status in (408, 504):
            self.status, self.anthropic_type = 504, "timeout_error"
        elif self.upstream_status is not None and self.upstream_status not in (503, 529):
            self.status, self.anthropic_type = 502, "api_error"
        if self.status == 429 and self.retry_after:
            self.headers.setdefault("Retry-After", str(max(1, round(self.retry_after))))


class UpstreamTimeout(UpstreamError):
    status = 504
    anthropic_type = "timeout_error"
    retryable = True
    default_message = "The upstream model provider did not answer in time."


class StreamInterrupted(UpstreamError):
    status = 502
    retryable = True
    default_message = "The upstream stream ended before it was complete."
