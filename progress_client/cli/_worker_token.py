"""Where ``progress-client serve`` leaves the worker token it made up, and where
``progress-client job`` finds it: a file only this user can read, one per loopback address.

``serve`` on a loopback address (127.0.0.1, ::1, localhost) without a worker token makes a
random one (``secrets.token_urlsafe``), so that writes need no set-up and yet nothing else
can write: it keeps it in ``<runtime dir>/worker-token-<host>-<port>`` (mode 0600, in a
directory of mode 0700) for as long as it runs, and removes it when it stops. ``job`` talking
to that same host and port reads it from there. The token is never printed.

The runtime directory is ``$XDG_RUNTIME_DIR/progress-client`` when that is set (a per-user
directory that the system empties at logout), else ``~/.cache/progress-client/run``. A file or
directory that is not this user's, or that others may read, is refused.

Light on purpose: ``job`` imports it at start-up; it imports only the standard library.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import stat
from pathlib import Path

__all__ = [
    "ENV_TOKEN",
    "is_loopback",
    "new_token",
    "read_token",
    "remove_token",
    "runtime_dir",
    "token_path",
    "write_token",
]

#: The environment variable both ``serve`` and ``job`` read the worker token from.
ENV_TOKEN = "PROGRESS_CLIENT_WORKER_TOKEN"


class TokenFileError(OSError):
    """The runtime directory or file is unsafe or could not be written."""


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def runtime_dir() -> Path:
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
        return Path(xdg) / "progress-client"
    return Path.home() / ".cache" / "progress-client" / "run"


def token_path(host: str, port: int) -> Path:
    name = host.strip().strip("[]").lower()
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in name)[:64]
    return runtime_dir() / f"worker-token-{safe}-{int(port)}"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _private(st: os.stat_result, mode_mask: int) -> bool:
    """Owned by this user, with none of ``mode_mask``'s permission bits."""
    owner_ok = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return owner_ok and not (stat.S_IMODE(st.st_mode) & mode_mask)


def write_token(host: str, port: int, token: str) -> Path:
    """Keep ``token`` for ``host:port``, readable by this user only; returns the file."""
    path = token_path(host, port)
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.stat(directory, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode) or not _private(st, 0o077):
        raise TokenFileError("the runtime directory for the worker token is not this user's "
                             "alone (mode 0700 expected)")
    tmp = directory / f".{path.name}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    try:
        os.write(fd, token.encode("ascii"))
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_token(host: str, port: int) -> str | None:
    """The token ``serve`` keeps for ``host:port``, or None (no file, or one that is not
    this user's alone)."""
    try:
        fd = os.open(token_path(host, port), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st, 0o077) or st.st_size > 1024:
            return None
        text = os.read(fd, 1024).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    return text or None


def remove_token(path: Path, token: str) -> None:
    """Remove the file if it still holds ``token`` (another server may have replaced it)."""
    try:
        if path.read_text("ascii").strip() == token:
            path.unlink()
    except (OSError, UnicodeDecodeError):
        pass
