"""sanitize(text): take secrets, credentials, file paths and addresses out of any text.

Every message this package shows, logs or stores passes through here, including error texts
that come from a server. The rules err on the side of hiding: a placeholder in a message costs
a user little, a leaked key costs a lot. Each rule is a compiled pattern and a replacement;
order matters (URL credentials before e-mail addresses, JWTs before generic tokens).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
from collections.abc import Callable
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "RedactingFilter",
    "install_log_redaction",
    "public_url",
    "redact_secrets",
    "sanitize",
]

_Repl = str | Callable[[re.Match[str]], str]

_TOKEN: Final = "[TOKEN]"

# Query parameters whose values are credentials, whatever they look like.
_SECRET_PARAM = (
    r"(?:access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|token|api[_-]?key|apikey|"
    r"key|secret|client[_-]?secret|password|passwd|pwd|pass|signature|sig|session|sessionid|"
    r"session[_-]?id|auth|code|credential|credentials|private[_-]?token|x-amz-signature|"
    r"x-amz-credential|x-amz-security-token)"
)
_SECRET_NAME = re.compile(rf"(?i)^{_SECRET_PARAM}$")

def _credential_like(scheme: str, value: str) -> bool:
    """Whether the word after an auth scheme is a credential rather than English."""
    if len(value) >= 20 or any(c.isdigit() or c in "-._~+/=" for c in value):
        return True
    if len(value) >= 8 and any(c.isupper() for c in value[1:]):
        return True  # mixed case inside a word: base64 or a random token
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError):
            return False
        return b":" in decoded  # user:password
    return False


@functools.cache
def _secret_rules() -> list[tuple[re.Pattern[str], _Repl]]:
    """Credentials of any kind: keys, tokens, passwords. Applied everywhere, logs included.
    Compiled on first use (start-up time: ``progress-client wait`` sends its first request
    before any text needs sanitizing)."""
    return [
        # PEM private keys, whole block (or an unterminated one up to the end).
        (
            re.compile(
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
                r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
                re.S,
            ),
            "[PRIVATE KEY]",
        ),
        # user:password@ in any URL-like authority.
        (
            re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@:]*:[^\s/@]*@"),
            lambda m: f"{m.group(1)}[CREDENTIALS]@",
        ),
        # Authorization-style schemes, when what follows looks like a credential (so that
        # "missing Bearer token" or "Basic authentication is off" stay readable).
        (
            re.compile(r"(?i)\b(Bearer|Token|Basic|Digest)(\s+)([A-Za-z0-9\-._~+/]+=*)"),
            lambda m: f"{m.group(1)}{m.group(2)}[TOKEN]"
            if _credential_like(m.group(1), m.group(3))
            else m.group(0),
        ),
        # JSON Web Tokens (three base64url parts, the first two starting with eyJ).
        (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"), "[JWT]"),
        # Stripe-style keys: sk_live_, sk_test_, rk_live_, pk_live_, whsec_ ...
        (
            re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}\b|\bsk_[A-Za-z0-9]{20,}\b"),
            _TOKEN,
        ),
        (re.compile(r"\bwhsec_[A-Za-z0-9]{16,}\b"), _TOKEN),
        # OpenAI/Anthropic style keys.
        (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}\b"), _TOKEN),
        # GitHub tokens: ghp_, gho_, ghu_, ghs_, ghr_, github_pat_.
        (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"), _TOKEN),
        # GitLab personal tokens.
        (re.compile(r"\bglpat-[A-Za-z0-9_\-]{16,}\b"), _TOKEN),
        # Slack tokens and webhooks.
        (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b"), _TOKEN),
        (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+"), "[URL]"),
        # Telegram bot tokens: 123456789:AA...
        (re.compile(r"\b\d{6,12}:AA[A-Za-z0-9_\-]{30,}\b"), _TOKEN),
        # Discord bot tokens.
        (
            re.compile(r"\b[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}\b"),
            _TOKEN,
        ),
        # AWS access key ids and secrets named as such.
        (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), _TOKEN),
        (
            re.compile(
                r"(?i)(aws_secret_access_key|aws_session_token|secret_access_key)(\s*[=:]\s*)"
                r"[\"']?[A-Za-z0-9/+=]{20,}[\"']?"
            ),
            r"\1\2[TOKEN]",
        ),
        # Google API keys.
        (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), _TOKEN),
        # npm, PyPI and Hugging Face tokens.
        (re.compile(r"\bnpm_[A-Za-z0-9]{30,}\b"), _TOKEN),
        (re.compile(r"\bpypi-[A-Za-z0-9_\-]{40,}\b"), _TOKEN),
        (re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), _TOKEN),
        # SendGrid, Twilio.
        (re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}\b"), _TOKEN),
        (re.compile(r"\b(?:AC|SK)[0-9a-f]{32}\b"), _TOKEN),
        # Credentials in query strings and key=value pairs.
        (
            re.compile(rf"(?i)([?&;]{_SECRET_PARAM}=)[^&#\s\"']+"),
            lambda m: f"{m.group(1)}[REDACTED]",
        ),
        (
            re.compile(
                # A prefix such as DB_ or MY_APP_ is part of the name: DB_PASSWORD=...
                r"(?i)(?<![A-Za-z0-9])((?:[A-Za-z0-9]+_)*(?:password|passwd|pwd|secret|api[_-]?key|"
                r"access[_-]?token|auth[_-]?token|client[_-]?secret|private[_-]?key|"
                r"account[_-]?key|shared[_-]?access[_-]?key)[\"']?\s*[=:]\s*)[\"']?[^\s\"',;&}]+[\"']?"
            ),
            lambda m: f"{m.group(1)}[REDACTED]",
        ),
    ]

@functools.cache
def _pii_rules() -> list[tuple[re.Pattern[str], _Repl]]:
    """Personal and location data: e-mails, file paths, IP addresses. Applied to every
    message and stored text, but not to third-party debug logs, where a host address is the
    point."""
    return [
        # E-mail addresses.
        (re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"), "[EMAIL]"),
        # Windows paths: C:\Users\..., \\server\share\...
        (re.compile(r"(?i)\b[a-z]:\\(?:[^\\\s\"'<>|:*?]+\\)*[^\\\s\"'<>|:*?]*"), "[PATH]"),
        (re.compile(r"\\\\[A-Za-z0-9_.$\-]+\\[^\s\"'<>|]+"), "[PATH]"),
        # Home directories written with a tilde.
        (re.compile(r"(?<![\w/])~[A-Za-z0-9_.\-]*/[^\s\"'<>:,;)]*"), "[PATH]"),
        # POSIX absolute paths with two or more segments (a lone "/jobs" in a URL path is kept:
        # URLs are handled by keeping their scheme and host, see the lookbehind).
        (
            re.compile(r"(?<![\w:/.\-])/(?:[A-Za-z0-9_.@+\-]+/)+[A-Za-z0-9_.@+\-]*"),
            "[PATH]",
        ),
        # IPv6 (full and compressed forms with at least two colons), before IPv4.
        (
            re.compile(
                r"(?i)(?<![\w:.])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|"
                r"(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,5})?|"
                r"::(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4})(?:%[0-9a-z]+)?(?![\w:])"
            ),
            "[IP]",
        ),
        # IPv4 addresses (each octet 0-255), with an optional port.
        (
            re.compile(
                r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?::\d{1,5})?(?![\w.])"
            ),
            "[IP]",
        ),
    ]

@functools.cache
def _rules() -> list[tuple[re.Pattern[str], _Repl]]:
    return _secret_rules() + _pii_rules()


def sanitize(text: object) -> str:
    """Return ``text`` with secrets, credentials, paths, e-mails and IP addresses replaced.

    Placeholders: ``[TOKEN]``, ``[JWT]``, ``[CREDENTIALS]``, ``[REDACTED]``, ``[PRIVATE KEY]``,
    ``[EMAIL]``, ``[PATH]``, ``[IP]``, ``[URL]``. Accepts any object and sanitizes its ``str()``.
    """
    out = text if isinstance(text, str) else str(text)
    if _plain(out):
        return out  # no rule can match it (a property test holds this)
    return _apply_rules(out)


#: Strings no rule can match, returned as they are without running the rules: most keys,
#: words and ids of a status document (``status``, ``in_progress``, ``job-1234``). Lowercase
#: ASCII letters and digits alone: every rule needs another character (a separator, an
#: uppercase prefix, ``@``, ``/``, ``.`` or ``:``). With ``_`` and ``-`` too, up to 14
#: characters: the shortest token a rule finds with them (``xoxb-`` and ten more) is 15.
_plain = re.compile(r"[a-z0-9]*|[a-z0-9_\-]{1,14}").fullmatch


def _apply_rules(out: str) -> str:
    for pattern, repl in _rules():
        out = pattern.sub(repl, out)
    return out


def redact_secrets(text: object) -> str:
    """Like ``sanitize`` but for credentials only: host names, addresses and paths stay."""
    out = text if isinstance(text, str) else str(text)
    for pattern, repl in _secret_rules():
        out = pattern.sub(repl, out)
    return out


class RedactingFilter(logging.Filter):
    """A logging filter that takes credentials out of a record's message before any handler
    sees it. httpx logs every request URL at INFO, user:password and ``?token=`` included."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; never drop the record
            return True
        clean = redact_secrets(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER: Final = RedactingFilter()

#: The loggers of the HTTP stack that write URLs or response headers.
HTTP_LOGGERS: Final = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


def install_log_redaction() -> None:
    """Attach the redacting filter to the HTTP stack's loggers (once; idempotent)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def public_url(url: str) -> str:
    """``url`` without userinfo, fragment, or the values of token-like query parameters."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "[URL]"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None else f"{host}:{port}"
    query = urlencode(
        [
            (k, "[REDACTED]" if _SECRET_NAME.match(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
