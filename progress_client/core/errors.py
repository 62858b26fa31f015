"""The PollError hierarchy: who is at fault, and what the caller can do about it.

- ``JobFailed``: the job itself reported a failure status. Not a polling problem.
- ``PollTimeout``: the caller's deadline passed before the job ended.
- ``BadResponse``: the endpoint answered, but not with a usable status document.
- ``RequestFailed``: the request failed for good: a fatal HTTP status, too many transient
  errors in a row, a redirect loop.
- ``InvalidResumeToken``: a resume token that is not ours, tampered with, or for another URL.

Every message is passed through ``sanitize()`` when the error is built, so printing or logging
an error never shows a credential.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from progress_client.core.sanitize import sanitize

if TYPE_CHECKING:
    from progress_client.core.report import PollReport
    from progress_client.core.status import JobStatus

__all__ = [
    "BadResponse",
    "InvalidResumeToken",
    "JobFailed",
    "NeedsAction",
    "PollError",
    "PollTimeout",
    "RequestFailed",
    "ResponseTooLarge",
    "TooManyErrors",
]


class PollError(Exception):
    """Base class of every error this package raises while waiting on a job."""

    #: The CLI exit code for this kind of error.
    exit_code: int = 4
    #: Whether a cancel request for the remote job was accepted (``cancel_on_exit``), or
    #: ``None`` when none was sent.
    cancelled_remote: bool | None = None
    #: The CLI ``outcome`` word for this kind of error.
    outcome: str = "error"
    #: The last failed request's description (``"could not connect: connection refused"``,
    #: ``"HTTP 503"``), sanitized, when failures are what ended the wait: set on
    #: ``TooManyErrors``, a fatal transport failure, and a ``PollTimeout`` whose last request
    #: failed; ``None`` otherwise.
    last_error: str | None = None
    #: The status URL the wait polled, in full but without credentials (userinfo, token-like
    #: query values); ``None`` when none was known (a start that got no answer).
    status_url: str | None = None

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: JobStatus | None = None,
        report: PollReport | None = None,
    ) -> None:
        self.message = sanitize(message)
        self.url = sanitize(url) if url is not None else None
        self.status = status
        self.report = report
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def name_status_url(self, url: str) -> None:
        """Set ``status_url`` from the caller's status URL, credentials removed, unless it is
        set already. (A ``PollTimeout`` removes them when ``status_url`` is first read.)"""
        if self.status_url is None:
            from progress_client.core.resume import public_url  # import cycle: resume imports this

            self.status_url = public_url(url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.url, self.status, self.report))


def _rebuild(
    cls: type[PollError], message: str, url: str | None, status: Any, report: Any
) -> PollError:
    err = cls.__new__(cls)
    PollError.__init__(err, message, url=url, status=status, report=report)
    return err


class JobFailed(PollError):
    """The job reported a failure status (``failed``, ``error``, ``cancelled`` ...)."""

    exit_code = 1
    outcome = "failed"


class NeedsAction(PollError):
    """The job waits for a person (a manual CI job, an approval, a paused run): polling alone
    will not end it. Raised when the profile says to end the wait there (the default)."""

    exit_code = 5
    outcome = "needs_action"


class PollTimeout(PollError):
    """The caller's deadline passed before the job reached a terminal status.

    ``resume_token`` continues this wait with ``wait(url, resume=token)``. The clients build a
    timeout's message, URL and token when first read (``later``): when thousands of waits
    reach their deadline together, what each one ends with must cost little at that instant,
    and a token (sanitizing the last document, canonical JSON, two SHA-256) costs more than a
    poll. What is read is the same as if built at once."""

    exit_code = 3
    outcome = "timeout"

    #: A token that continues this wait with ``wait(url, resume=token)``; set by the clients.
    resume_token: str | None

    def __init__(self, message: str, *, url: str | None = None,
                 status: JobStatus | None = None, report: PollReport | None = None,
                 resume_token: str | None = None) -> None:
        super().__init__(message, url=url, status=status, report=report)
        self.resume_token = resume_token

    @classmethod
    def later(cls, build: Callable[[], TimedOut]) -> PollTimeout:
        """A timeout whose ``(message, url, resume_token, status, report)`` ``build()``
        gives when any of them (or ``str()``, ``args``, a pickle) is first read; the message
        and the URL are sanitized then, as ``__init__`` does. Fields set before are kept."""
        err = cls.__new__(cls)
        err.__dict__["_build"] = build
        return err

    def __getattr__(self, name: str) -> Any:
        # Only reached for what is not set yet: the deferred fields of ``later``.
        if name in _DEFERRED and self._built():
            return self.__dict__[name]
        if name == "resume_token":  # unpickled: a pickle carries no token
            return None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _built(self) -> bool:
        """Build the deferred fields, if any are pending; whether any were."""
        build = self.__dict__.pop("_build", None)
        if build is None:
            return False
        message, url, token, status, report = build()
        fields = self.__dict__
        fields.setdefault("message", sanitize(message))
        fields.setdefault("url", sanitize(url) if url is not None else None)
        fields.setdefault("resume_token", token)
        fields.setdefault("status", status)
        fields.setdefault("report", report)
        BaseException.args.__set__(self, (fields["message"],))  # type: ignore[attr-defined]
        return True

    @property
    def status_url(self) -> str | None:
        """As ``PollError.status_url``; the caller's URL it comes from is stripped of its
        credentials when first read (``name_status_url``)."""
        fields = self.__dict__
        url = fields.pop("_status_url_of", None)
        if url is not None:
            from progress_client.core.resume import public_url  # import cycle: resume imports this

            fields["status_url"] = public_url(url)
        return fields.get("status_url")

    @status_url.setter
    def status_url(self, value: str | None) -> None:
        self.__dict__.pop("_status_url_of", None)
        self.__dict__["status_url"] = value

    def name_status_url(self, url: str) -> None:
        if self.__dict__.get("status_url") is None and "_status_url_of" not in self.__dict__:
            self.__dict__["_status_url_of"] = url

    @property
    def args(self) -> tuple[Any, ...]:
        self._built()
        return BaseException.args.__get__(self)  # type: ignore[attr-defined,no-any-return]

    @args.setter
    def args(self, value: tuple[Any, ...]) -> None:
        self._built()
        BaseException.args.__set__(self, value)  # type: ignore[attr-defined]


_DEFERRED = frozenset({"message", "url", "resume_token", "status", "report"})
#: What ``PollTimeout.later``'s build gives: message, URL, resume token, status, report.
TimedOut = tuple[str, "str | None", "str | None", "JobStatus | None", "PollReport | None"]


class BadResponse(PollError):
    """The endpoint answered with something that is not a usable status document."""

    def __init__(self, message: str, *, status_code: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status_code = status_code


class ResponseTooLarge(BadResponse):
    """The response body exceeded the size limit; reading stopped at the limit."""


class RequestFailed(PollError):
    """The request failed for good: a fatal HTTP status or a transport failure."""

    def __init__(self, message: str, *, status_code: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status_code = status_code


class TooManyErrors(RequestFailed):
    """Transient errors (network, 429, 5xx) kept coming past ``max_consecutive_errors``."""


class InvalidResumeToken(PollError, ValueError):
    """A resume token that is malformed, tampered with, of another version or another URL."""

    exit_code = 2
