"""The transports: how a request goes over the wire, under one set of HTTP rules.

``rules`` holds the rules every transport follows (redirects, credentials across origins, body
limits, cookies) as pure functions; ``http`` builds the httpx clients and maps their failures;
``aiohttp`` is the fast path on asyncio; ``bodies`` reads bodies and streams within limits.
"""
