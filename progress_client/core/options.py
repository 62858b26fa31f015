"""Every option of ``ProgressClient`` and ``AsyncProgressClient``, declared once.

``OPTIONS`` is the one table of the clients' keyword options: each one's name, type (as the
signatures write it), default, which clients take it, whether it is a field of ``WaitConfig``,
its check, its one-line doc and the command line's flag that mirrors it. Everything else
follows from it:

- the two ``__init__`` signatures are a block generated from it and kept in the source (so
  type checkers and IDEs see every keyword and its type); ``python -m tools.options_codegen``
  (in the source tree) rewrites the blocks and the docs' table, and ``tests/test_options.py``
  fails when a signature, ``WaitConfig``, the command line or the docs drift from it;
- ``take_options`` checks every option here, once, when a client is built: a bad value is a
  ``ValueError`` (or ``TypeError`` for a wrong kind of thing) naming the option, before any
  request; ``WaitConfig`` runs the same checks on its fields;
- the command line's defaults and limits (``--max-errors``, ``--long-poll`` ...) come from here.

Cheap to import on purpose (the ``wait`` command's start-up): the standard library only; a
check that needs a class imports it when it runs.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_REQUEST_TIMEOUT",
    "MAX_LONG_POLL",
    "MIN_INTERVAL",
    "OPTIONS",
    "TRANSPORTS",
    "Option",
    "check_option",
    "option",
    "options_of",
    "take_options",
]

#: The default response size limit: 1 MiB, read no further.
DEFAULT_MAX_BODY = 1 << 20
DEFAULT_REQUEST_TIMEOUT = 30.0
#: Redirects followed per request before ``TooManyRedirects``.
DEFAULT_MAX_REDIRECTS = 5
#: Requests in flight at once per client (and the size of the pool it creates).
DEFAULT_MAX_CONCURRENCY = 100
#: The longest hold a long poll asks for (RFC 7240 ``Prefer: wait=N``), in seconds.
MAX_LONG_POLL = 60.0
#: The shortest interval a policy may have without ``allow_fast_polling=True``, in seconds:
#: below it a wait polls the server many times a second (a typo, or a load test).
MIN_INTERVAL = 0.05
#: The values of ``AsyncProgressClient(transport=...)``.
TRANSPORTS = ("auto", "httpx", "aiohttp")

if TYPE_CHECKING:
    #: A check: ``check(name, value, client)`` raises ``ValueError`` / ``TypeError`` naming
    #: the option; ``client`` is ``"sync"`` or ``"async"`` (``None`` from ``WaitConfig``).
    Check = Callable[[str, Any, str | None], None]


# -- the checks ---------------------------------------------------------------------------------


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def count(name: str, v: Any, client: str | None = None) -> None:
    """An integer >= 1 (not a bool)."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


def _count_or_zero(name: str, v: Any, client: str | None = None) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {v!r}")


def positive(name: str, v: Any, client: str | None = None) -> None:
    """A finite number > 0."""
    if not (_number(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0")


def not_negative(name: str, v: Any, client: str | None = None) -> None:
    """A finite number >= 0."""
    if not (_number(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0")


def _flag(name: str, v: Any, client: str | None = None) -> None:
    if not isinstance(v, bool):
        raise TypeError(f"{name} must be True or False, got {type(v).__name__}")


def _long_poll(name: str, v: Any, client: str | None = None) -> None:
    if v is None or isinstance(v, bool):
        return
    if not (_number(v) and 0 < v <= MAX_LONG_POLL):
        raise ValueError(f"{name} must be a number of seconds in (0, {MAX_LONG_POLL:g}]")


def _text(name: str, v: Any, client: str | None = None) -> None:
    if v is not None and not isinstance(v, str):  # "" is the default, as None
        raise TypeError(f"{name} must be a string, got {type(v).__name__}")


def _words(name: str, v: Any, client: str | None = None) -> None:
    """``None``, a comma-separated string, or an iterable of strings."""
    if v is None or isinstance(v, str):
        return
    try:
        items = list(v)
    except TypeError:
        raise TypeError(f"{name} must be a string or an iterable of strings, got "
                        f"{type(v).__name__}") from None
    if not all(isinstance(i, str) for i in items):
        raise TypeError(f"{name} must be a string or an iterable of strings")


def _event_types(name: str, v: Any, client: str | None = None) -> None:
    if v is None or (isinstance(v, str) and v):
        return
    try:
        ok = all(isinstance(n, str) and n for n in v)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a set of event names (non-empty strings)")


def _mapping(name: str, v: Any, client: str | None = None) -> None:
    if v is not None and not isinstance(v, Mapping):
        raise TypeError(f"{name} must be a mapping of names to values, got {type(v).__name__}")
    for key, value in (v or {}).items():
        if not isinstance(key, (str, bytes)) or not isinstance(value, (str, bytes)):
            raise TypeError(f"{name} must map header names to values (strings)")


def _callable(name: str, v: Any, client: str | None = None) -> None:
    if v is not None and not callable(v):
        raise TypeError(f"{name} must be a callable, got {type(v).__name__}")


def _has(*methods: str) -> Check:
    def check(name: str, v: Any, client: str | None = None) -> None:
        if v is not None and not all(hasattr(v, m) for m in methods):
            raise TypeError(f"{name} must have {', '.join('.' + m for m in methods)}, got "
                            f"{type(v).__name__}")

    return check


def _model(name: str, v: Any, client: str | None = None) -> None:
    if v is not None and not (isinstance(v, type) and hasattr(v, "model_validate")):
        raise TypeError(f"{name} must be a pydantic model class, got {v!r:.60}")


def _auth(name: str, v: Any, client: str | None = None) -> None:
    if v is None or hasattr(v, "auth_flow"):  # an httpx.Auth
        return
    if not (isinstance(v, tuple) and len(v) == 2 and all(isinstance(a, (str, bytes))
                                                          for a in v)):
        raise TypeError(f"{name} must be a (user, password) tuple or an httpx.Auth, got "
                        f"{type(v).__name__}")


def _client(name: str, v: Any, client: str | None = None) -> None:
    if v is None:
        return
    import httpx  # the core loads no I/O library: only a given http_client= is checked

    want = httpx.AsyncClient if client == "async" else httpx.Client
    if not isinstance(v, want):
        raise TypeError(f"{name} must be an httpx.{want.__name__}, got {type(v).__name__}")


def _verify(name: str, v: Any, client: str | None = None) -> None:
    if isinstance(v, (bool, str, os.PathLike)):
        return
    import ssl  # the core loads no I/O library: only a given SSLContext is checked

    if not isinstance(v, ssl.SSLContext):
        raise TypeError(f"{name} must be True, False, a CA bundle's path or an "
                        f"ssl.SSLContext, got {type(v).__name__}")


def _profile(name: str, v: Any, client: str | None = None) -> None:
    # Which profile, and whether it is valid, its loader says (ProfileError, a ValueError).
    if v is not None and not isinstance(v, (str, os.PathLike)) and not hasattr(v, "status"):
        raise TypeError(f"{name} must be a built-in's name, a profile file's path or a "
                        f"Profile, got {type(v).__name__}")


def _limits(name: str, v: Any, client: str | None = None) -> None:
    if v is None or isinstance(v, (str, Mapping)):
        return
    from progress_client.core.budget import Limit  # start-up: only limits= loads the budgets

    if not isinstance(v, Limit):
        raise TypeError(f"{name} must be 'auto', a limit such as '60/m' or a Limit, or a "
                        f"mapping of origins to limits, got {type(v).__name__}")


def _transport(name: str, v: Any, client: str | None = None) -> None:
    if v not in TRANSPORTS:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, TRANSPORTS))}")


# -- the declaration ----------------------------------------------------------------------------


class Option:
    """One client option. A plain class: the parsers import this module, and a dataclass or
    a named tuple would cost them milliseconds of class building at start-up."""

    __slots__ = ("check", "cli", "clients", "config", "config_type", "default", "doc", "name",
                 "source", "type")

    def __init__(
        self, name: str, type: str, default: Any, doc: str, check: Check | None = None, *,
        clients: str = "both", config: bool = False, cli: tuple[str, ...] = (),
        source: str | None = None, config_type: str | None = None,
    ) -> None:
        self.name = name
        #: The annotation, as the signatures write it; ``{client}`` is ``Client`` or
        #: ``AsyncClient``.
        self.type = type
        self.default = default
        #: One line for the docs' table (and WaitConfig's field).
        self.doc = doc
        self.check = check
        #: ``"both"``, ``"sync"`` or ``"async"``.
        self.clients = clients
        #: Whether ``WaitConfig`` has a field of this name (the option is passed to it as is).
        self.config = config
        #: The command line's flags that mirror it (``wait`` and ``run``), if any.
        self.cli = cli
        #: The default as the signatures write it, when ``repr(default)`` is not that.
        self.source = source
        #: ``WaitConfig``'s type for it, when not ``type`` (the clients take more shapes).
        self.config_type = config_type

    def __repr__(self) -> str:
        return f"Option({self.name!r}, {self.type!r}, default={self.default!r})"

    def annotation(self, client: str) -> str:
        return self.type.format(client="AsyncClient" if client == "async" else "Client")

    def default_source(self) -> str:
        return self.source if self.source is not None else repr(self.default)

    def takes(self, client: str) -> bool:
        return self.clients in ("both", client)


_BOTH_OPTIONS = (
    Option("policy", "Policy | None", None,
           "the schedule (default: adaptive, 3 s, +1 s per unchanged answer, up to 8 s)",
           _has("delay")),
    Option("baseline", "float", 1.0,
           "the fixed interval the savings report counts against, in seconds",
           positive, config=True, cli=("--baseline",)),
    Option("headers", "Mapping[str, str] | None", None,
           "headers sent with every request (they win over a profile's)",
           _mapping, cli=("-H", "--header")),
    Option("auth", "httpx.Auth | tuple[str, str] | None", None,
           "credentials, sent only to the origin of the URL you named", _auth),
    Option("client", "httpx.{client} | None", None,
           "your own httpx client (its pool and settings kept; not closed for you)", _client),
    Option("spec", "Reader | None", None,
           "how a status document is read (a StatusSpec); not with the shorthands below",
           _has("read", "hint_headers")),
    Option("status_field", "str | None", None,
           "dotted path of the status word (default: status)", _text,
           cli=("--status-field",)),
    Option("success", "Iterable[str] | None", None,
           "status words that mean success, added to the defaults", _words,
           cli=("--success",)),
    Option("failure", "Iterable[str] | None", None,
           "status words that mean failure, added to the defaults", _words,
           cli=("--failure",)),
    Option("change_on", "Iterable[str] | str | None", None,
           "fields whose change counts as a change (resets the interval)", _words,
           cli=("--change-on",)),
    Option("model", "type[BaseModel] | None", None,
           "a pydantic model each status document is validated into", _model),
    Option("max_consecutive_errors", "int", 10,
           "failed requests in a row before TooManyErrors", count, config=True,
           cli=("--max-errors",)),
    Option("hint_cap", "float", 300.0,
           "the longest a server hint (Retry-After ...) may delay a poll, in seconds",
           not_negative, config=True),
    Option("max_body", "int", DEFAULT_MAX_BODY,
           "the largest response read, in bytes (ResponseTooLarge beyond)", count,
           config=True, cli=("--max-body",), source="DEFAULT_MAX_BODY"),
    Option("request_timeout", "float", DEFAULT_REQUEST_TIMEOUT,
           "the longest one request may take, in seconds", positive, config=True,
           source="DEFAULT_REQUEST_TIMEOUT"),
    Option("conditional", "bool", True,
           "send If-None-Match / If-Modified-Since (304s cost no body)", _flag, config=True),
    Option("verify", "Any", True,
           "TLS verification: True, False, a CA bundle's path or an ssl.SSLContext", _verify),
    Option("max_redirects", "int", DEFAULT_MAX_REDIRECTS,
           "redirects followed per request before RequestFailed", _count_or_zero,
           source="DEFAULT_MAX_REDIRECTS"),
    Option("max_concurrency", "int", DEFAULT_MAX_CONCURRENCY,
           "requests in flight at once (and the connection pool's size)", count,
           source="DEFAULT_MAX_CONCURRENCY"),
    Option("sse_max_failures", "int", 3,
           "event-stream failures before a wait falls back to polling for good", count,
           config=True),
    Option("event_types", "Iterable[str] | str | None", None,
           "the SSE event names read as statuses (default: any whose data is one)",
           _event_types, config=True, cli=("--event-type",),
           config_type="frozenset[str] | None"),
    Option("long_poll", "float | bool | None", None,
           f"ask the server to hold each poll (Prefer: wait=N; True: {MAX_LONG_POLL:g} s)",
           _long_poll, config=True, cli=("--long-poll",), config_type="float | None"),
    Option("allow_fast_polling", "bool", False,
           f"accept a policy faster than {MIN_INTERVAL:g} s (a test server of your own)",
           _flag, config=True, cli=("--allow-fast-polling",)),
    Option("on_request", "RequestHook | None", None,
           "called after every request with a RequestEvent", _callable),
    Option("on_change", "ChangeHook | None", None,
           "called on every status change with a ChangeEvent", _callable),
    Option("before_request", "BeforeRequestHook | None", None,
           "called before every request with a RequestInfo; may add headers", _callable),
    Option("profile", "ProfileArg | None", None,
           "how a vendor's job API is read, started and cancelled (a name, file or Profile)",
           _profile, cli=("--profile",)),
    Option("limits", "LimitsArg", None,
           "rate budgets per origin: 'auto', '60/m', a Limit, or a mapping of origins",
           _limits),
)

#: Every option, in the signatures' order.
OPTIONS: tuple[Option, ...] = (
    *_BOTH_OPTIONS,
    Option("clock", "Clock | None", None,
           "the clock waits run on (a VirtualClock in tests)", _has("now", "wall", "sleep"),
           clients="sync"),
    Option("wall_clock", "Callable[[], float]", time.time,
           "the wall clock budgets and resume tokens read (seconds since the epoch)",
           _callable, clients="async", source="time.time"),
    Option("transport", "str", "auto",
           "how polls go on asyncio: 'auto' (aiohttp when installed), 'httpx' or 'aiohttp'",
           _transport, clients="async"),
)

_BY_NAME = {o.name: o for o in OPTIONS}


def option(name: str) -> Option:
    """The declaration of option ``name``."""
    return _BY_NAME[name]


def options_of(client: str) -> tuple[Option, ...]:
    """The options ``client`` (``"sync"`` or ``"async"``) takes, in its signature's order."""
    return tuple(o for o in OPTIONS if o.takes(client))


def check_option(name: str, value: Any, client: str | None = None) -> None:
    """Raise ``ValueError`` / ``TypeError`` naming ``name`` when ``value`` is not one it
    takes."""
    check = _BY_NAME[name].check
    if check is not None:
        check(name, value, client)


def take_options(client: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``client`` out of ``given`` (a constructor's ``locals()``), each
    checked: the first bad one raises, before anything is built or sent."""
    taken: dict[str, Any] = {}
    for o in options_of(client):
        value = given[o.name]
        if o.check is not None:
            o.check(o.name, value, client)
        taken[o.name] = value
    return taken


# -- what is generated from it ------------------------------------------------------------------
