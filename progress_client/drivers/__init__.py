"""The drivers: the thin twins that carry the core's actions out, and what they share.

``sync`` (``ProgressClient``: threads, a ``Clock``) and ``aio`` (``AsyncProgressClient``: anyio,
asyncio and trio) with ``base`` and ``shared`` between them; ``aio_fast`` and ``deadlines`` for
polls over aiohttp on asyncio; ``many`` (many jobs in one task group), ``gates`` (rate budgets'
queues), ``wake`` (a push source cutting a sleep short), ``watchdog`` (the sync client's
deadlines on sockets), ``observer`` (logging and hooks), ``clock``.
"""
