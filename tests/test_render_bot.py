"""The example bot (``examples/render_bot.py``) end to end: a real bot process on the async
client with a SQLite store and webhooks, the Replicate imitation (``tests/vendors.py``), a
stand-in for the Telegram Bot API at the chat's edge, and a real SIGKILL in the middle of a
job. The stand-in follows https://core.telegram.org/bots/api: ``POST /bot<token>/<method>``
with JSON, answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description"}``; getUpdates long-polls and confirms updates below ``offset``; editing a
message to the text it has is a 400 "message is not modified"."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from benchmarks.procs import free_port
from progress_client import FixedPolicy
from progress_client.core.config import WaitConfig
from progress_client.core.engine import PollEngine
from progress_client.engine import Sleep
from tests.serving import LoopbackHTTP, QuietHandler, send_json
from tests.test_webhooks import SECRET, standard_headers
from tests.vendors import vendor_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import render_bot  # noqa: E402

TOKEN = "123456:BOT-TOKEN-SECRET"
R8 = "r8_BOT_REPLICATE_SECRET"


class FakeTelegram(LoopbackHTTP):
    """The Bot API methods the bot uses, on 127.0.0.1."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self.confirmed = 0
        self.sent: list[dict[str, Any]] = []
        self.edits: list[dict[str, Any]] = []
        self.texts: dict[int, str] = {}
        self.next_id = 100
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code, body = outer.route(self.path, json.loads(raw or b"{}"))
                with contextlib.suppress(OSError):  # the bot was killed while it long-polled
                    send_json(self, code, body)

        super().__init__(Handler)
        self.url = self.origin
        self.start()

    def command(self, text: str, message_id: int = 10, chat: int = 42) -> None:
        with self.cond:
            self.updates.append({"update_id": len(self.updates) + 1, "message": {
                "message_id": message_id, "date": int(time.time()), "text": text,
                "chat": {"id": chat, "type": "private"}, "from": {"id": 7, "is_bot": False,
                                                                 "first_name": "Ann"}}})
            self.cond.notify_all()

    def route(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{TOKEN}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix):]
        with self.cond:
            if method == "getUpdates":
                offset = int(params.get("offset", 0))
                self.confirmed = max(self.confirmed, offset - 1)
                end = time.monotonic() + min(float(params.get("timeout", 0)), 30)
                while True:
                    fresh = [u for u in self.updates if u["update_id"] >= offset]
                    left = end - time.monotonic()
                    if fresh or left <= 0:
                        return 200, {"ok": True, "result": fresh}
                    self.cond.wait(left)
            if method == "sendMessage":
                self.next_id += 1
                self.sent.append({**params, "message_id": self.next_id})
                self.texts[self.next_id] = params["text"]
                return 200, {"ok": True, "result": {"message_id": self.next_id,
                                                    "chat": {"id": params["chat_id"]},
                                                    "date": int(time.time()),
                                                    "text": params["text"]}}
            if method == "editMessageText":
                mid = int(params["message_id"])
                if mid not in self.texts:
                    return 400, {"ok": False, "error_code": 400,
                                 "description": "Bad Request: message to edit not found"}
                if self.texts[mid] == params["text"]:
                    return 400, {"ok": False, "error_code": 400, "description":
                                 "Bad Request: message is not modified: specified new message "
                                 "content and reply markup are exactly the same as a current "
                                 "content and reply markup of the message"}
                self.texts[mid] = params["text"]
                self.edits.append(params)
                return 200, {"ok": True, "result": {"message_id": mid,
                                                    "text": params["text"]}}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def close(self) -> None:
        with self.cond:
            self.updates.append({"update_id": 10**9})  # release the long polls
            self.cond.notify_all()
        super().close()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    t = FakeTelegram()
    yield t
    t.close()


def _until(check: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.e2e
def test_the_bot_survives_a_sigkill_mid_job(tmp_path: Path, telegram: FakeTelegram) -> None:
    port = free_port()
    db = tmp_path / "bot.db"
    logs = tmp_path / "bot.log"
    with vendor_server() as vendors, logs.open("wb") as log:
        job = vendors.script("replicate", [{"status": "succeeded",
                                            "output": ["https://replicate.delivery/cat.png"]}])
        env = {**os.environ, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_API": telegram.url,
               "REPLICATE_API_TOKEN": R8, "REPLICATE_WEBHOOK_SECRET": SECRET,
               "PUBLIC_URL": f"http://127.0.0.1:{port}/hooks", "LISTEN": f"127.0.0.1:{port}",
               "STORE": str(db), "REPLICATE_START_URL": vendors.start_url("replicate")}
        argv = [sys.executable, str(ROOT / "examples" / "render_bot.py")]
        first = subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=log, stdout=log)
        try:
            telegram.command("/render a cat in the rain")
            _until(lambda: vendors.starts["replicate"] == 1 and telegram.sent, 60,
                   "the job's start and its message")
            _until(lambda: _has_status_url(db), 30, "the start's answer checkpointed")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        second = subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=log, stdout=log)
        try:
            _until(lambda: _listening(port), 60, "the restarted bot's receiver")
            hook = json.loads(vendors.start_bodies["replicate"][0])["webhook"]
            body = json.dumps({"id": job.id, "status": "succeeded"}).encode()
            time.sleep(0.5)  # the resumed wait registers its webhook token
            answer = httpx.post(hook, content=body, headers=standard_headers(body))
            if answer.status_code == 404:  # not registered yet: the vendor retries
                time.sleep(2)
                answer = httpx.post(hook, content=body,
                                    headers=standard_headers(body, msg_id="msg_2"))
            assert answer.status_code == 200
            _until(lambda: len(telegram.sent) >= 2, 30, "the outcome posted")
            time.sleep(1)  # anything posted twice would show up now
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    progress, outcome = telegram.sent[0], telegram.sent[1]
    assert len(telegram.sent) == 2  # one message per job, the outcome posted once
    assert progress["reply_parameters"] == {"message_id": 10}
    assert "queued" in progress["text"]
    assert outcome["text"] == "✅ https://replicate.delivery/cat.png"
    assert outcome["reply_parameters"] == {"message_id": progress["message_id"]}
    mid = progress["message_id"]
    assert telegram.texts[mid].endswith("✅ done")
    assert all(e["message_id"] == mid for e in telegram.edits)
    assert vendors.starts["replicate"] == 1 and job.starts == 1  # never started twice
    assert job.polls == 1  # one GET confirmed the webhook; no safety poll
    text = logs.read_bytes()
    for secret in (TOKEN, R8, SECRET):
        assert secret.encode() not in db.read_bytes()
        assert secret.encode() not in text


def _has_status_url(db: Path) -> bool:
    from progress_client.waitstore import SQLiteWaitStore

    with SQLiteWaitStore(db) as store:
        return any(r.status_url for r in store.unfinished())


def test_progress_edits_are_throttled() -> None:
    """Many statuses, few edits: a new status at once, progress at most every 3 s."""
    edits: list[tuple[float, str]] = []
    now = [0.0]

    class Chat:
        async def edit(self, chat_id: int, message_id: int, text: str) -> None:
            edits.append((now[0], text))

    class Durable:
        handler: Any = None

    bot = render_bot.RenderBot(Chat(), Durable(), start_url="http://x/",  # type: ignore[arg-type]
                               clock=lambda: now[0])
    engine = PollEngine(WaitConfig(policy=FixedPolicy(1.0)), url="http://x/jobs/1")
    record = render_bot.WaitRecord(key="k", kind="run", url="http://x/",
                                   metadata={"chat": 1, "message": 2, "prompt": "a cat"})

    async def feed() -> None:
        for t in range(20):  # a poll a second, the progress moving every time
            action = engine.next_action(now[0])
            while isinstance(action, Sleep):
                now[0] = action.until
                action = engine.next_action(now[0])
            status = "starting" if t < 3 else "processing"
            engine.receive_response(now[0], 200, {}, json.dumps(
                {"status": status, "progress": t * 5}).encode())
            for update in engine.take_events():
                await bot.on_update(record, update)  # type: ignore[arg-type]

    anyio.run(feed)
    # 20 statuses: each new status word at once (0 s, 3 s), the progress every 3 s at most.
    assert [t for t, _ in edits] == [0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0]
    assert "processing 90%" in edits[-1][1]
