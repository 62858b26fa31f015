"""The reference status server: where job progress is written (``MemoryStore``,
``RedisStore``) and served (``create_app``: JSON with ETag, Server-Sent Events, health).

Needs the ``server`` extra (starlette, uvicorn, redis): ``pip install 'progress-client[server]'``.
Importing ``progress_client`` alone never imports this package.
"""

from ._thread import RunningServer, serve_in_thread
from .app import create_app, etag_for, if_none_match
from .pii import InvalidMetadata, JobMetadata, PIIRefused, check_metadata, find_pii
from .read_tokens import check_read_token, mint_read_token
from .redis_store import RedisStore
from .store import (
    CHECKPOINT_TTL,
    METADATA_TTL,
    PROGRESS_TTL,
    Checkpoint,
    MemoryStore,
    ProgressRecord,
    Store,
    StoreUnavailable,
    Subscription,
    is_terminal,
)

__all__ = [
    "CHECKPOINT_TTL",
    "METADATA_TTL",
    "PROGRESS_TTL",
    "Checkpoint",
    "InvalidMetadata",
    "JobMetadata",
    "MemoryStore",
    "PIIRefused",
    "ProgressRecord",
    "RedisStore",
    "RunningServer",
    "Store",
    "StoreUnavailable",
    "Subscription",
    "check_metadata",
    "check_read_token",
    "create_app",
    "etag_for",
    "find_pii",
    "if_none_match",
    "is_terminal",
    "mint_read_token",
    "serve_in_thread",
]
