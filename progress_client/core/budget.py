"""Rate budgets shared by every wait on one origin: which request may go now, and when the
next may. Pure: no clock, no I/O; the drivers pass ``now`` (monotonic) and ``wall`` (epoch).

An origin's ``Budget`` combines what it is told and what it learns:

- a **configured limit** (``Limit``: N requests per window, ``limits=`` / ``--rate-limit``),
  kept as a sliding log of send times: never more than N sends in any window of that length
  (no burst at a window's edge, as fixed windows allow), and paced as a token bucket that holds
  a tenth of the limit and refills at N per window, so a crowd of waits is spread over the
  window instead of spending it at its start and starving for the rest of it;
- what the **server states** on its answers: ``X-RateLimit-Limit/-Remaining/-Reset`` (GitHub
  and many others; the reset as epoch seconds or as seconds from now), the IETF ``RateLimit``
  / ``RateLimit-Policy`` fields (``"name";r=R;t=T`` and ``"name";q=Q;w=W``) and their older
  ``RateLimit-Limit/-Remaining/-Reset`` form. Requests go while some are left (those in
  flight counted); when fewer are left than waits are queued, what is left is spread evenly
  until the reset; none left means nothing goes before the reset. A stated policy (a quota
  and its window) is kept as a limit, as a configured one is;
- a **pause**: a 429 or 503 with ``Retry-After`` on any wait stops every wait on the origin
  until then.

Until an origin's budget is known (no configured limit, no answer read yet), its first request
goes alone: the others wait for its answer, which may state the budget.

Waits queue for the origin's next slot in order of their deadlines (a wait without one last),
then of arrival: none starves, and the one nearest its deadline goes first.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from progress_client.core.hints import parse_retry_after
from progress_client.core.value import Value, setslot

__all__ = ["Budget", "Budgets", "Limit", "LimitsArg", "Ticket", "parse_limit"]

_UNITS = {
    "s": 1.0, "sec": 1.0, "second": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0,
    "h": 3600.0, "hour": 3600.0,
    "d": 86400.0, "day": 86400.0,
    "month": 30 * 86400.0,
}
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")
#: Resets closer than this are one window's (reset fields have a resolution of a second).
_SAME_RESET = 1.5
#: Header values longer than this are not read (a hostile server's megabyte header).
_MAX_HEADER = 512


class Limit(Value):
    """At most ``requests`` requests in any window of ``window`` seconds."""

    __slots__ = ("requests", "window")
    __match_args__ = ("requests", "window")
    requests: int
    window: float

    def __init__(self, requests: int, window: float) -> None:
        if not isinstance(requests, int) or isinstance(requests, bool) or requests < 1:
            raise ValueError(f"a rate limit allows at least 1 request, not {requests!r}")
        if not (isinstance(window, (int, float)) and math.isfinite(window) and window > 0):
            raise ValueError(f"a rate limit's window is a positive number of seconds, "
                             f"not {window!r}")
        setslot(self, "requests", requests)
        setslot(self, "window", float(window))

    @property
    def spacing(self) -> float:
        """The pace that spreads the limit evenly over its window."""
        return self.window / self.requests

    def __str__(self) -> str:
        for unit in ("month", "d", "h", "m", "s"):
            if self.window == _UNITS[unit]:
                return f"{self.requests}/{unit}"
        return f"{self.requests}/{self.window:g}s"


def parse_limit(text: str) -> Limit:
    """``"60/m"``, ``"5000/h"``, ``"10/s"``, ``"500000/month"``, ``"100/30s"`` as a ``Limit``."""
    m = _LIMIT.match(text.lower()) if isinstance(text, str) else None
    if m is None or m.group(3) not in _UNITS:
        raise ValueError(
            f"not a rate limit: {text!r} (write N/s, N/m, N/h, N/d or N/month, e.g. 5000/h)"
        )
    count, per = int(m.group(1)), float(m.group(2) or 1)
    return Limit(count, per * _UNITS[m.group(3)])


class Ticket:
    """One wait's place in an origin's queue (the driver keeps it while it waits)."""

    __slots__ = ("deadline", "done", "seq", "waiter")

    def __init__(self, deadline: float | None, seq: int, waiter: Any = None) -> None:
        self.deadline = math.inf if deadline is None else deadline
        self.seq = seq
        #: The driver's handle to wake this wait (an event); opaque here.
        self.waiter = waiter
        #: Granted, or withdrawn: no longer in the queue.
        self.done = False

    def __lt__(self, other: Ticket) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class Budget:
    """The rate budget of one origin (see the module's docstring)."""

    __slots__ = (
        "_queue", "_seq", "_tokens", "_waiting", "configured",
        "in_flight", "known", "learned", "paused_until", "probing", "remaining", "reset_at",
        "sent",
    )

    def __init__(self, limit: Limit | None = None) -> None:
        self.configured = limit
        #: A limit the server stated in RateLimit-Policy / X-RateLimit-Limit.
        self.learned: Limit | None = None
        #: Send times (monotonic) within the longest window in force.
        self.sent: deque[float] = deque()
        #: What the server says is left, and when (monotonic) its window resets.
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self.paused_until = -math.inf
        #: Whether an answer (or a configured limit) told what the budget is.
        self.known = limit is not None
        #: A first request is out alone, its answer not yet read.
        self.probing = False
        #: Per limit (configured, learned): the bucket's tokens and when they were counted.
        self._tokens: dict[Limit, tuple[float, float]] = {}
        self._queue: list[Ticket] = []
        self._waiting = 0
        self._seq = 0
        #: Requests granted whose answer (or error) has not been observed yet.
        self.in_flight = 0

    # -- the queue ---------------------------------------------------------------------------

    def ticket(self, deadline: float | None, waiter: Any = None) -> Ticket:
        """A place in the queue for a wait that has a request to send."""
        self._seq += 1
        t = Ticket(deadline, self._seq, waiter)
        heapq.heappush(self._queue, t)
        self._waiting += 1
        return t

    def head(self) -> Ticket | None:
        """The ticket that goes next (withdrawn ones dropped)."""
        q = self._queue
        while q and q[0].done:
            heapq.heappop(q)
        return q[0] if q else None

    def withdraw(self, ticket: Ticket) -> None:
        """The wait left the queue without sending (its deadline, a cancellation)."""
        if not ticket.done:
            ticket.done = True
            self._waiting -= 1

    def grant(self, ticket: Ticket, now: float) -> bool:
        """Whether ``ticket`` may send now; if so it leaves the queue and the send is counted."""
        if ticket.done or self.head() is not ticket or self.ready_at(now) > now:
            return False
        heapq.heappop(self._queue)
        ticket.done = True
        self._waiting -= 1
        self._record(now)
        return True

    def _record(self, now: float) -> None:
        for limit in (self.configured, self.learned):
            if limit is not None:
                tokens, _ = self._bucket(limit, now)
                self._tokens[limit] = (tokens - 1.0, now)
        self.sent.append(now)
        self.in_flight += 1
        if self.remaining is not None:
            self.remaining -= 1
        if not self.known:
            self.probing = True

    # -- deciding ----------------------------------------------------------------------------

    def ready_at(self, now: float) -> float:
        """The earliest time the next request may go (``inf``: not before an answer)."""
        if self.probing:
            return math.inf
        at = max(now, self.paused_until)
        longest = 0.0
        sent = self.sent
        for limit in (self.configured, self.learned):
            if limit is None:
                continue
            longest = max(longest, limit.window)
            tokens, _ = self._bucket(limit, now)
            if tokens < 1.0:
                at = max(at, now + (1.0 - tokens) * limit.spacing)
            if len(sent) >= limit.requests:
                at = max(at, sent[-limit.requests] + limit.window + _guard(limit.window))
        left, reset = self.remaining, self.reset_at
        if left is not None and reset is not None and reset > now:
            if left <= 0:
                at = max(at, reset)
            elif sent and left < self.queued():
                # Fewer left than waits want: spread what is left until the reset.
                at = max(at, sent[-1] + (reset - now) / left)
        self._trim(now, longest)
        return at

    def queued(self) -> int:
        """How many waits are in the queue (withdrawn places not counted)."""
        return self._waiting

    def _bucket(self, limit: Limit, now: float) -> tuple[float, float]:
        """The bucket of ``limit`` refilled up to ``now``: (tokens, now)."""
        capacity = max(1.0, limit.requests / 10)
        tokens, then = self._tokens.get(limit, (capacity, now))
        return min(capacity, tokens + max(0.0, now - then) / limit.spacing), now

    def _trim(self, now: float, longest: float) -> None:
        sent = self.sent
        keep = max(longest, 1.0)
        while len(sent) > 1 and sent[0] <= now - keep:
            sent.popleft()

    # -- learning ----------------------------------------------------------------------------

    def observe(self, now: float, wall: float, status: int | None,
                headers: Mapping[str, str] | None) -> None:
        """An answer (``status`` ``None``: no answer, an error) came back from the origin."""
        self.probing = False
        self.known = True
        self.in_flight = max(0, self.in_flight - 1)
        if headers is None:
            return
        self._learn(now, wall, headers)
        if status in (429, 503):
            delay = parse_retry_after(_header(headers, "retry-after"), wall)
            if delay is None and status == 429 and self.reset_at is not None:
                delay = max(0.0, self.reset_at - now)
            if delay is not None:
                self.paused_until = max(self.paused_until, now + delay)

    def _learn(self, now: float, wall: float, headers: Mapping[str, str]) -> None:
        limit = _int(_header(headers, "x-ratelimit-limit"))
        remaining = _int(_header(headers, "x-ratelimit-remaining"))
        reset = _reset(_header(headers, "x-ratelimit-reset"), wall)
        if remaining is None:  # the IETF draft's earlier, separate fields
            limit = limit if limit is not None else _int(_header(headers, "ratelimit-limit"))
            remaining = _int(_header(headers, "ratelimit-remaining"))
            reset = reset if reset is not None else _reset(
                _header(headers, "ratelimit-reset"), wall)
        structured = _header(headers, "ratelimit")
        if structured is not None and remaining is None:
            params = _structured(structured)
            remaining = _int(params.get("r", params.get("remaining")))
            seconds = _float(params.get("t", params.get("reset")))
            if seconds is not None:
                reset = seconds
            if limit is None:
                limit = _int(params.get("limit"))
        policy = _header(headers, "ratelimit-policy")
        window: float | None = None
        if policy is not None:
            params = _structured(policy)
            limit = _int(params.get("q")) or limit
            window = _float(params.get("w"))
        if remaining is not None and reset is not None:
            # The requests still in flight may not be in the server's count yet.
            left, reset_at = max(0, remaining - self.in_flight), now + reset
            if (self.remaining is not None and self.reset_at is not None
                    and abs(reset_at - self.reset_at) < _SAME_RESET):
                # The same window: answers can come back out of order, and one the server
                # counted earlier says more is left than one it counted later. The least
                # holds.
                left = min(left, self.remaining)
            self.remaining, self.reset_at = left, reset_at
        # A limit without its window (X-RateLimit-Limit alone) says too little to pace by:
        # the remaining count and its reset do the work then.
        if limit is not None and limit > 0 and window is not None and window > 0:
            learned = Limit(limit, window)
            if learned != self.learned:
                self.learned = learned


def _guard(window: float) -> float:
    """A little more than the window: requests sent a window apart can arrive closer together
    (the server counts arrivals), so the last slot of a full window is left a moment later."""
    return min(1.0, max(0.05, window * 0.02))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None or len(value) > _MAX_HEADER:
        return None
    return value


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 15:
        return None
    return int(value)


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    try:
        f = float(value) if value.isascii() and len(value) <= 20 else math.nan
    except ValueError:
        return None
    return f if math.isfinite(f) and f >= 0 else None


def _reset(value: str | None, wall: float) -> float | None:
    """Seconds until a reset given as seconds from now or as epoch seconds (GitHub)."""
    seconds = _float(value)
    if seconds is None:
        return None
    if seconds > 1_000_000_000:  # an epoch time, not a delay of 31 years
        seconds = seconds - wall
        if seconds < 0:
            return 0.0
    return min(seconds, 86400.0 * 31)


def _structured(value: str) -> dict[str, str]:
    """The parameters of the first item of a structured field: ``"default";r=50;t=30`` or the
    older ``limit=100, remaining=50, reset=5``."""
    params: dict[str, str] = {}
    first = value.split(",")[0] if ";" in value else value
    for part in re.split(r"[;,]", first):
        key, eq, val = part.strip().partition("=")
        if eq:
            params.setdefault(key.strip().lower(), val.strip().strip('"'))
    return params


#: What ``limits=`` takes: ``"auto"`` (learn every origin's budget from its answers), a limit
#: for every origin (``"60/m"`` or a ``Limit``), or a mapping of origins
#: (``"https://api.github.com"``) to either, with ``"*"`` for every other origin.
LimitsArg = Any


class Budgets:
    """The budgets of every origin a client talks to, made on first use from ``limits=``."""

    __slots__ = ("_by_origin", "_default", "_per_origin")

    def __init__(self, limits: LimitsArg) -> None:
        self._per_origin: dict[str, Limit | None] = {}
        self._default: Limit | bool | None = False  # False: origins not named get no budget
        if isinstance(limits, Mapping):
            for origin, spec in limits.items():
                if not isinstance(origin, str):
                    raise TypeError(f"limits= maps origins (strings) to limits, not {origin!r}")
                if origin == "*":
                    self._default = _limit_of(spec)
                else:
                    self._per_origin[_origin_key(origin)] = _limit_of(spec)
        else:
            self._default = _limit_of(limits)
        self._by_origin: dict[str, Budget | None] = {}

    def for_url(self, url: str) -> Budget | None:
        """The budget of the origin of ``url``, or ``None`` when it has none."""
        return self.get(_origin_key(url))

    def get(self, origin: str) -> Budget | None:
        """The budget of ``origin`` (``scheme://host[:port]``), or ``None`` when it has none."""
        key = _origin_key(origin)
        budget = self._by_origin.get(key, False)
        if budget is not False:
            return budget  # type: ignore[return-value]
        if key in self._per_origin:
            made: Budget | None = Budget(self._per_origin[key])
        elif self._default is False:
            made = None
        else:
            made = Budget(self._default)  # type: ignore[arg-type]
        self._by_origin[key] = made
        return made


def _limit_of(spec: Any) -> Limit | None:
    """``"auto"`` (learn only) as ``None``; a limit's text or a ``Limit`` as a ``Limit``."""
    if isinstance(spec, Limit):
        return spec
    if spec == "auto":
        return None
    if isinstance(spec, str):
        return parse_limit(spec)
    raise TypeError(f"a rate limit is 'auto', text such as '5000/h', or a Limit, not {spec!r}")


def _origin_key(origin: str) -> str:
    """``https://API.example.com/path`` and ``https://api.example.com:443`` as one key."""
    parts = urlsplit(origin if "://" in origin else f"https://{origin}")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    host = (parts.hostname or "").lower()
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
