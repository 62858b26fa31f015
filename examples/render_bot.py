"""A chat bot that renders images on Replicate and keeps the chat posted, across restarts.

``/render a cat in the rain`` in a Telegram chat:

1. the bot answers with one message ("queued") and starts the prediction, a durable run
   (``client.durable(store)``): the start's answer is checkpointed before anything else;
2. it edits that one message as the job moves (at most one edit per ``EDIT_EVERY`` seconds
   while only the progress changes; a new status is shown at once);
3. Replicate calls the bot's webhook when the prediction ends (Standard Webhooks, verified):
   one GET confirms, the message shows the end, and the outcome is posted once, as a reply.
   Until the webhook comes the job is polled once a minute (a lost webhook costs a minute).

Stop the bot at any moment (a deploy, a crash, SIGKILL) and start it again: it continues
every unfinished job from the store, edits the same messages and posts each outcome once;
no prediction is started twice. A command Telegram delivers again after a restart is
recognised by its key (chat id and message id) and not started twice.

Run it (``pip install 'progress-client[webhooks,server]'``)::

    export TELEGRAM_TOKEN=...                 # from @BotFather
    export REPLICATE_API_TOKEN=r8_...
    export REPLICATE_WEBHOOK_SECRET=whsec_... # GET https://api.replicate.com/v1/webhooks/default/secret
    export PUBLIC_URL=https://bot.example.com/hooks   # where Replicate reaches LISTEN
    export LISTEN=0.0.0.0:8080 STORE=bot.db
    python examples/render_bot.py

Tokens come from the environment only; the store holds none (``docs/durable-waits.md``).
``tests/test_render_bot.py`` runs this file end to end against a stand-in Telegram Bot API,
the Replicate imitation and a real SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from progress_client import AsyncProgressClient, Update
from progress_client.waitstore import (
    AsyncDurableWaits,
    DurableOutcome,
    KeyInUse,
    SQLiteWaitStore,
    WaitRecord,
)
from progress_client.webhooks import WebhookReceiver

log = logging.getLogger("render_bot")

MODEL_URL = ("https://api.replicate.com/v1/models/black-forest-labs/flux-schnell/"
             "predictions")
#: Seconds between two edits of a job's message while only its progress changes.
EDIT_EVERY = 3.0


class Telegram:
    """The chat's edge: the three Bot API methods the bot uses
    (https://core.telegram.org/bots/api: getUpdates, sendMessage, editMessageText)."""

    def __init__(self, http: httpx.AsyncClient, token: str,
                 api: str = "https://api.telegram.org") -> None:
        self._http = http
        self._base = f"{api.rstrip('/')}/bot{token}"

    async def _call(self, method: str, **params: Any) -> Any:
        answer = await self._http.post(f"{self._base}/{method}", json=params,
                                       timeout=params.get("timeout", 0) + 10)
        body = answer.json()
        if not body.get("ok"):  # the description only: the URL holds the token
            raise RuntimeError(f"Telegram {method}: {body.get('description', answer.status_code)}")
        return body["result"]

    async def updates(self, offset: int, timeout: int = 30) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call(
            "getUpdates", offset=offset, timeout=timeout, allowed_updates=["message"])
        return result

    async def send(self, chat_id: int, text: str, reply_to: int | None = None) -> int:
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if reply_to is not None:
            params["reply_parameters"] = {"message_id": reply_to}
        return int((await self._call("sendMessage", **params))["message_id"])

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        try:
            await self._call("editMessageText", chat_id=chat_id, message_id=message_id,
                             text=text)
        except RuntimeError as exc:
            # The same text again (a restart that repeats an edit): nothing to change.
            if "message is not modified" not in str(exc):
                raise


def progress_text(prompt: str, status: str, progress: float | None, requests: int) -> str:
    tail = f" {progress:.0f}%" if progress is not None else ""
    return f"🎨 {prompt}\n⏳ {status}{tail} ({requests} requests)"


class RenderBot:
    """The bot: commands in, one message per job, edited, the outcome posted once."""

    def __init__(self, chat: Telegram, durable: AsyncDurableWaits, *, start_url: str,
                 edit_every: float = EDIT_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.chat = chat
        self.durable = durable
        self.start_url = start_url
        self.edit_every = edit_every
        self._clock = clock
        #: Per job: (when its message was last edited, the status and text it shows).
        self._shown: dict[str, tuple[float, str, str]] = {}
        durable.handler = self.on_outcome

    async def on_command(self, chat_id: int, message_id: int, text: str,
                         tg: Any) -> None:
        if not text.startswith("/render"):
            return
        prompt = text.removeprefix("/render").strip() or "a cat"
        key = f"{chat_id}:{message_id}"
        if await self.durable.store.aget(key) is not None:
            return  # Telegram delivered this command again (after a restart): one job only
        reply = await self.chat.send(chat_id, progress_text(prompt, "queued", None, 0),
                                     reply_to=message_id)
        metadata = {"chat": chat_id, "message": reply, "prompt": prompt}

        async def start() -> None:
            with contextlib.suppress(KeyInUse):  # registered meanwhile: one job only
                await self.durable.run(self.start_url, key=key, profile="replicate",
                                       json={"input": {"prompt": prompt}}, metadata=metadata,
                                       on_update=self.on_update)

        tg.start_soon(start)

    async def on_update(self, record: WaitRecord, update: Update) -> None:
        """A status seen: a new status word is shown at once; progress alone at most every
        ``edit_every`` seconds (chat APIs limit edits)."""
        if update.terminal:
            return  # the outcome's edit says it
        meta = record.metadata
        status = update.status.status
        text = progress_text(meta["prompt"], status, update.status.progress,
                             update.report.requests)
        last_at, last_status, last_text = self._shown.get(record.key, (-1e18, "", ""))
        now = self._clock()
        if status == last_status and (text == last_text or now - last_at < self.edit_every):
            return
        self._shown[record.key] = (now, status, text)
        await self.chat.edit(meta["chat"], meta["message"], text)

    async def on_outcome(self, outcome: DurableOutcome) -> None:
        """The job's end: its message shows it, and one reply posts it."""
        meta = outcome.metadata
        if outcome.ok:
            result = outcome.result
            link = result[0] if isinstance(result, list) and result else result
            final, post = f"🎨 {meta['prompt']}\n✅ done", f"✅ {link}"
        else:
            final = f"🎨 {meta['prompt']}\n❌ {outcome.outcome}"
            post = f"❌ {outcome.outcome}: {outcome.error or outcome.status}"
        self._shown.pop(outcome.key, None)
        await self.chat.edit(meta["chat"], meta["message"], final)
        await self.chat.send(meta["chat"], post, reply_to=meta["message"])

    async def serve_commands(self) -> None:
        offset = 0
        async with anyio.create_task_group() as tg:
            while True:
                try:
                    updates = await self.chat.updates(offset)
                except (httpx.HTTPError, RuntimeError, ValueError) as exc:
                    log.warning("getUpdates failed (%s); again in 1 s", type(exc).__name__)
                    await anyio.sleep(1)
                    continue
                for item in updates:
                    offset = max(offset, int(item["update_id"]) + 1)
                    message = item.get("message") or {}
                    if "text" in message:
                        await self.on_command(message["chat"]["id"], message["message_id"],
                                              message["text"], tg)

    async def run(self) -> None:
        """Continue the jobs of the last run, and take new commands, until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.durable.resume_all, None)
            tg.start_soon(self.serve_commands)


async def main() -> None:
    env = os.environ
    host, _, port = env.get("LISTEN", "127.0.0.1:8080").rpartition(":")
    receiver = WebhookReceiver(env["PUBLIC_URL"],
                               secrets={"replicate": env["REPLICATE_WEBHOOK_SECRET"]},
                               safety_interval=float(env.get("SAFETY_INTERVAL", "60")))
    headers = {"Authorization": f"Bearer {env['REPLICATE_API_TOKEN']}"}
    with SQLiteWaitStore(env.get("STORE", "bot.db")) as store, receiver.serve(host, int(port)):
        async with AsyncProgressClient(headers=headers) as client, httpx.AsyncClient() as http:
            chat = Telegram(http, env["TELEGRAM_TOKEN"],
                            env.get("TELEGRAM_API", "https://api.telegram.org"))
            durable = client.durable(store, webhooks=receiver)
            bot = RenderBot(chat, durable, start_url=env.get("REPLICATE_START_URL", MODEL_URL),
                            edit_every=float(env.get("EDIT_EVERY", EDIT_EVERY)))
            await bot.run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the bot URL
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(main)
