"""progress-client: wait on long-running HTTP jobs with as few requests as possible.

Adaptive polling (3 s, +1 s per unchanged status, up to 8 s, reset on a change), server hints
(Retry-After), conditional requests (ETag/304), and a savings report of every wait. The engine
is sans-IO (``PollEngine``); ``ProgressClient`` and ``AsyncProgressClient`` drive it over httpx.
"""

from ._async import AsyncProgressClient
from ._client import ChangeEvent, JobOutcome, RequestEvent, WaitResult
from ._clock import Clock, SystemClock, VirtualClock
from ._engine import EngineState, PollEngine, PollReport, Send, Sleep, Stop, Update
from ._errors import (
    BadResponse,
    InvalidResumeToken,
    JobFailed,
    PollError,
    PollTimeout,
    RequestFailed,
    ResponseTooLarge,
    TooManyErrors,
)
from ._hints import parse_retry_after
from ._models import JobStatus, StatusSpec
from ._policy import AdaptivePolicy, ExponentialPolicy, FixedPolicy, Policy
from ._sanitize import sanitize
from ._simulate import SimulationResult, simulate
from ._sync import ProgressClient

__version__ = "0.1.0"

__all__ = [
    "AdaptivePolicy",
    "AsyncProgressClient",
    "BadResponse",
    "ChangeEvent",
    "Clock",
    "EngineState",
    "ExponentialPolicy",
    "FixedPolicy",
    "InvalidResumeToken",
    "JobFailed",
    "JobOutcome",
    "JobStatus",
    "Policy",
    "PollEngine",
    "PollError",
    "PollReport",
    "PollTimeout",
    "ProgressClient",
    "RequestEvent",
    "RequestFailed",
    "ResponseTooLarge",
    "Send",
    "SimulationResult",
    "Sleep",
    "StatusSpec",
    "Stop",
    "SystemClock",
    "TooManyErrors",
    "Update",
    "VirtualClock",
    "WaitResult",
    "__version__",
    "parse_retry_after",
    "sanitize",
    "simulate",
]
