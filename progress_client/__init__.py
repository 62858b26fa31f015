"""progress-client: wait on long-running HTTP jobs with as few requests as possible.

Adaptive polling (3 s, +1 s per unchanged status, up to 8 s, reset on a change), server hints
(Retry-After), conditional requests (ETag/304), and a savings report of every wait. The engine
is sans-IO; ``ProgressClient`` and ``AsyncProgressClient`` drive it over httpx, and
``progress_client.engine`` holds its vocabulary (``PollEngine``, its actions and phases) for a
driver of your own.

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
    from .core.actions import FellBack, Update
    from .core.budget import Limit
    from .core.config import WaitConfig
    from .core.errors import (
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
    from .core.events import ChangeEvent, RequestEvent, RequestInfo
    from .core.hints import parse_retry_after
    from .core.models import Reader, Reading, StatusSpec
    from .core.policy import AdaptivePolicy, ExponentialPolicy, FixedPolicy, Policy
    from .core.report import PollReport
    from .core.results import JobOutcome, WaitResult
    from .core.sanitize import sanitize
    from .core.simulate import SimulationResult, simulate
    from .core.status import JobStatus
    from .drivers.aio import AsyncProgressClient
    from .drivers.clock import Clock, SystemClock, VirtualClock
    from .drivers.sync import ProgressClient
    from .profiles.profile import Profile, ProfileError, load_profile

#: Each exported name and the private module that defines it.
_EXPORTS: dict[str, str] = {
    "AdaptivePolicy": ".core.policy",
    "AsyncProgressClient": ".drivers.aio",
    "BadResponse": ".core.errors",
    "ChangeEvent": ".core.events",
    "Clock": ".drivers.clock",
    "ExponentialPolicy": ".core.policy",
    "FellBack": ".core.actions",
    "FixedPolicy": ".core.policy",
    "InvalidResumeToken": ".core.errors",
    "JobFailed": ".core.errors",
    "NeedsAction": ".core.errors",
    "JobOutcome": ".core.results",
    "JobStatus": ".core.status",
    "Limit": ".core.budget",
    "Policy": ".core.policy",
    "PollError": ".core.errors",
    "PollReport": ".core.report",
    "PollTimeout": ".core.errors",
    "Profile": ".profiles.profile",
    "ProfileError": ".profiles.profile",
    "ProgressClient": ".drivers.sync",
    "Reader": ".core.models",
    "Reading": ".core.models",
    "RequestEvent": ".core.events",
    "RequestFailed": ".core.errors",
    "RequestInfo": ".core.events",
    "ResponseTooLarge": ".core.errors",
    "SimulationResult": ".core.simulate",
    "StatusSpec": ".core.models",
    "SystemClock": ".drivers.clock",
    "TooManyErrors": ".core.errors",
    "Update": ".core.actions",
    "VirtualClock": ".drivers.clock",
    "WaitConfig": ".core.config",
    "WaitResult": ".core.results",
    "load_profile": ".profiles.profile",
    "parse_retry_after": ".core.hints",
    "sanitize": ".core.sanitize",
    "simulate": ".core.simulate",
}

__all__ = [
    "AdaptivePolicy",
    "AsyncProgressClient",
    "BadResponse",
    "ChangeEvent",
    "Clock",
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
    "PollError",
    "PollReport",
    "PollTimeout",
    "Profile",
    "ProfileError",
    "ProgressClient",
    "Reader",
    "Reading",
    "RequestEvent",
    "RequestFailed",
    "RequestInfo",
    "ResponseTooLarge",
    "SimulationResult",
    "StatusSpec",
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


#: Names that moved to ``progress_client.engine`` in 0.3: still found here, with a warning.
_MOVED = ("Counters", "EngineState", "PollEngine", "ReadStream", "Request", "Sleep", "Stop")
_INTERNAL = tuple(f"{__name__}.{sub}." for sub in ("core", "drivers", "transports", "profiles"))

if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name stays an error there

    def __getattr__(name: str) -> object:
        module = _EXPORTS.get(name)
        if module is None and name in _MOVED:
            import warnings  # only on the deprecated path

            warnings.warn(
                f"progress_client.{name} moved to progress_client.engine.{name}",
                DeprecationWarning,
                stacklevel=2,
            )
            from . import engine  # only on the deprecated path

            return getattr(engine, name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib import import_module  # names load on first use (PEP 562)

        value = getattr(import_module(module, __name__), name)
        if getattr(value, "__module__", "").startswith(_INTERNAL):
            # Public names show the package as their home, as httpx's do.
            value.__module__ = __name__
        globals()[name] = value  # the next lookup is a plain module attribute
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
