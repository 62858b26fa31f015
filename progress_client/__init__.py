"""progress-client: wait on long-running HTTP jobs with as few requests as possible.

Adaptive polling (3 s, +1 s per unchanged status, up to 8 s, reset on a change), server hints
(Retry-After), conditional requests (ETag/304), and a savings report of every wait. The engine
is sans-IO (``PollEngine``); ``ProgressClient`` and ``AsyncProgressClient`` drive it over httpx.

The names below load on first use (PEP 562), so ``import progress_client`` costs almost
nothing and a program pays only for what it touches: the ``wait`` command never imports the
async client or anyio, a planner never imports httpx. Type checkers read the imports under
``TYPE_CHECKING``, which name the same modules as ``_EXPORTS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

#: The one place the version is written: hatch reads it for the wheel and the sdist
#: (``[tool.hatch.version]``), ``--version`` prints it, the ``User-Agent`` header carries it.
__version__ = "0.3.0"

if TYPE_CHECKING:
    from ._actions import FellBack, ReadStream, Request, Sleep, Stop, Update
    from ._async import AsyncProgressClient
    from ._budget import Limit
    from ._clock import Clock, SystemClock, VirtualClock
    from ._config import WaitConfig
    from ._engine import PollEngine
    from ._errors import (
        BadResponse,
        InvalidResumeToken,
        JobFailed,
        NeedsAction,
        PollError,
        PollTimeout,
        RequestFailed,
        ResponseTooLarge,
        TooManyErrors,
    )
    from ._events import ChangeEvent, RequestEvent, RequestInfo
    from ._hints import parse_retry_after
    from ._models import Reader, Reading, StatusSpec
    from ._policy import AdaptivePolicy, ExponentialPolicy, FixedPolicy, Policy
    from ._profile import Profile, ProfileError, load_profile
    from ._report import Counters, PollReport
    from ._results import JobOutcome, WaitResult
    from ._sanitize import sanitize
    from ._simulate import SimulationResult, simulate
    from ._state import EngineState
    from ._status import JobStatus
    from ._sync import ProgressClient

#: Each exported name and the private module that defines it.
_EXPORTS: dict[str, str] = {
    "AdaptivePolicy": "._policy",
    "AsyncProgressClient": "._async",
    "BadResponse": "._errors",
    "ChangeEvent": "._events",
    "Clock": "._clock",
    "Counters": "._report",
    "EngineState": "._state",
    "ExponentialPolicy": "._policy",
    "FellBack": "._actions",
    "FixedPolicy": "._policy",
    "InvalidResumeToken": "._errors",
    "JobFailed": "._errors",
    "NeedsAction": "._errors",
    "JobOutcome": "._results",
    "JobStatus": "._status",
    "Limit": "._budget",
    "Policy": "._policy",
    "PollEngine": "._engine",
    "PollError": "._errors",
    "PollReport": "._report",
    "PollTimeout": "._errors",
    "Profile": "._profile",
    "ProfileError": "._profile",
    "ProgressClient": "._sync",
    "ReadStream": "._actions",
    "Reader": "._models",
    "Reading": "._models",
    "Request": "._actions",
    "RequestEvent": "._events",
    "RequestFailed": "._errors",
    "RequestInfo": "._events",
    "ResponseTooLarge": "._errors",
    "SimulationResult": "._simulate",
    "Sleep": "._actions",
    "StatusSpec": "._models",
    "Stop": "._actions",
    "SystemClock": "._clock",
    "TooManyErrors": "._errors",
    "Update": "._actions",
    "VirtualClock": "._clock",
    "WaitConfig": "._config",
    "WaitResult": "._results",
    "load_profile": "._profile",
    "parse_retry_after": "._hints",
    "sanitize": "._sanitize",
    "simulate": "._simulate",
}

__all__ = [
    "AdaptivePolicy",
    "AsyncProgressClient",
    "BadResponse",
    "ChangeEvent",
    "Clock",
    "Counters",
    "EngineState",
    "ExponentialPolicy",
    "FellBack",
    "FixedPolicy",
    "InvalidResumeToken",
    "JobFailed",
    "JobOutcome",
    "JobStatus",
    "Limit",
    "NeedsAction",
    "Policy",
    "PollEngine",
    "PollError",
    "PollReport",
    "PollTimeout",
    "Profile",
    "ProfileError",
    "ProgressClient",
    "ReadStream",
    "Reader",
    "Reading",
    "Request",
    "RequestEvent",
    "RequestFailed",
    "RequestInfo",
    "ResponseTooLarge",
    "SimulationResult",
    "Sleep",
    "StatusSpec",
    "Stop",
    "SystemClock",
    "TooManyErrors",
    "Update",
    "VirtualClock",
    "WaitConfig",
    "WaitResult",
    "__version__",
    "load_profile",
    "parse_retry_after",
    "sanitize",
    "simulate",
]


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name stays an error there

    def __getattr__(name: str) -> object:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib import import_module

        value = getattr(import_module(module, __name__), name)
        if getattr(value, "__module__", "").startswith(f"{__name__}._"):
            # Public names show the package as their home, as httpx's do.
            value.__module__ = __name__
        globals()[name] = value  # the next lookup is a plain module attribute
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
