"""Webhooks end to end on 127.0.0.1: the start request carries the webhook URL where the vendor
expects it, a verified webhook wakes the wait, one GET confirms, the wait ends; until then it
polls only on the slow safety schedule. Forged, stale and replayed webhooks get 4xx, change
nothing and log no secret. The tests play the vendor's webhook sender: Replicate signs with
Standard Webhooks (https://replicate.com/docs/topics/webhooks/verify-webhook), fal with
ED25519 over ``request_id\\nuser_id\\ntimestamp\\nsha256hex(body)``
(https://docs.fal.ai/model-endpoints/webhooks)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks.webhooks import Webhook

from progress_client import AsyncProgressClient, ProgressClient
from progress_client.core.engine import PollEngine
from progress_client.waitstore import DurableOutcome
from progress_client.waitstore.memory import MemoryWaitStore
from progress_client.webhooks import (
    FalSignature,
    ReplayGuard,
    SharedSecretHeader,
    StandardWebhooks,
    WebhookReceiver,
    WebhookRejected,
)
from tests.serving import LoopbackHTTP, QuietHandler, fixture, send_json
from tests.vendors import Job, VendorServer, vendor_server

SECRET = "whsec_" + base64.b64encode(b"progress-client-test-secret-32by").decode()
#: Another key: a webhook signed with it is forged.
FORGED = "whsec_" + base64.b64encode(b"x" * 32).decode()


server = fixture(VendorServer)


def standard_headers(body: bytes, *, secret: str = SECRET, msg_id: str = "msg_1",
                     at: float | None = None) -> dict[str, str]:
    stamp = datetime.fromtimestamp(time.time() if at is None else at, tz=timezone.utc)
    sig = Webhook(secret).sign(msg_id, stamp, body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": sig, "content-type": "application/json"}


def fal_headers(key: Ed25519PrivateKey, body: bytes, request_id: str,
                at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    message = "\n".join((request_id, "user-1", stamp, hashlib.sha256(body).hexdigest()))
    return {"x-fal-webhook-request-id": request_id, "x-fal-webhook-user-id": "user-1",
            "x-fal-webhook-timestamp": stamp,
            "x-fal-webhook-signature": key.sign(message.encode()).hex(),
            "content-type": "application/json"}


def _hook_urls(server: VendorServer, vendor: str, n: int, timeout: float = 60) -> list[str]:
    end = time.monotonic() + timeout
    while len(server.start_bodies.get(vendor, [])) < n:
        assert time.monotonic() < end, "the starts did not come"
        time.sleep(0.01)
    return [json.loads(b)["webhook"] for b in server.start_bodies[vendor][:n]]


# -- the engine and the waker --------------------------------------------------------------


def test_a_wake_moves_the_next_poll_to_now() -> None:
    engine = PollEngine(url="http://x/jobs/1")
    action = engine.next_action(0.0)
    engine.receive_response(0.0, 200, {}, b'{"status": "running"}')
    assert engine.next_poll_at == 3.0
    engine.receive_wake(1.0)
    assert engine.next_poll_at == 1.0
    action = engine.next_action(1.0)
    assert action.purpose == "poll"  # type: ignore[union-attr]
    engine.receive_wake(1.5)  # a request is in flight: its answer serves
    engine.receive_response(1.5, 200, {}, b'{"status": "completed"}')
    engine.receive_wake(2.0)  # after the end: nothing
    assert engine.finished


# -- verification ---------------------------------------------------------------------------


def test_standard_webhooks_verification() -> None:
    v = StandardWebhooks(["whsec_" + base64.b64encode(b"other-secret-of-32-bytes-long!!").decode(),
                          SECRET])
    body = b'{"id": "p1", "status": "succeeded"}'
    assert v.verify(body, standard_headers(body)) == "msg_1"
    # Several signatures (the vendor rotating its key): one matching is enough.
    h = standard_headers(body)
    h["webhook-signature"] = "v1,AAAA " + h["webhook-signature"]
    assert v.verify(body, h) == "msg_1"
    with pytest.raises(WebhookRejected) as bad:
        v.verify(body + b" ", standard_headers(body))
    assert bad.value.status == 401
    with pytest.raises(WebhookRejected) as stale:
        v.verify(body, standard_headers(body, at=time.time() - 301))
    assert stale.value.status == 400
    with pytest.raises(WebhookRejected) as missing:
        v.verify(body, {})
    assert missing.value.status == 400
    with pytest.raises(ValueError, match="whsec_") as err:
        StandardWebhooks("whsec_!!!not base64")
    assert "not base64" not in str(err.value)  # the secret is not repeated


def test_fal_and_shared_header_verification() -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519",
                      "x": base64.urlsafe_b64encode(raw).decode().rstrip("=")}]}
    v = FalSignature(jwks)
    body = b'{"request_id": "r1", "status": "OK"}'
    assert v.verify(body, fal_headers(key, body, "r1")).startswith("r1:")
    with pytest.raises(WebhookRejected):
        v.verify(body, fal_headers(Ed25519PrivateKey.generate(), body, "r1"))
    with pytest.raises(WebhookRejected) as stale:
        v.verify(body, fal_headers(key, body, "r1", at=time.time() - 400))
    assert stale.value.status == 400
    s = SharedSecretHeader("X-Progress-Webhook-Auth", "s3cr3t-value")
    assert s.verify(body, {"x-progress-webhook-auth": "s3cr3t-value"})
    with pytest.raises(WebhookRejected) as wrong:
        s.verify(body, {"x-progress-webhook-auth": "guess"})
    assert "s3cr3t" not in wrong.value.reason


def test_replay_guard_forgets_after_its_window() -> None:
    now = [0.0]
    guard = ReplayGuard(window=600, clock=lambda: now[0])
    guard.check("a")
    with pytest.raises(WebhookRejected) as again:
        guard.check("a")
    assert again.value.status == 409
    now[0] = 601
    guard.check("b")
    guard.check("a")  # long past any timestamp's tolerance: refused there instead


# -- end to end ------------------------------------------------------------------------------


def _prediction(server: VendorServer, n: int) -> bytes:
    return json.dumps({"id": f"p{n:04d}x", "status": "succeeded", "output": ["x.png"]}).encode()


def test_a_replicate_webhook_wakes_the_wait(
    server: VendorServer, caplog: pytest.LogCaptureFixture
) -> None:
    job = server.script("replicate", ["succeeded"])
    receiver = WebhookReceiver("http://placeholder/hooks", secrets={"replicate": SECRET})
    caplog.set_level(logging.DEBUG)
    with receiver.serve() as url:
        receiver.public_url = url
        got: dict[str, Any] = {}

        async def vendor_side() -> None:
            hook = (await anyio.to_thread.run_sync(_hook_urls, server, "replicate", 1))[0]
            body = _prediction(server, 1)
            async with httpx.AsyncClient() as http:
                forged = await http.post(hook, content=body, headers=standard_headers(
                    body, secret="whsec_" + base64.b64encode(b"x" * 32).decode()))
                stale = await http.post(hook, content=body,
                                        headers=standard_headers(body, at=time.time() - 600))
                unsigned = await http.post(hook, content=body)
                elsewhere = await http.post(url + "/nope", content=body,
                                            headers=standard_headers(body))
                await anyio.sleep(0.3)
                got["polls_before"] = job.polls
                headers = standard_headers(body, msg_id="msg_ok")
                got["sent"] = time.monotonic()
                ok = await http.post(hook, content=body, headers=headers)
                replay = await http.post(hook, content=body, headers=headers)
            got["codes"] = [forged.status_code, stale.status_code, unsigned.status_code,
                            elsewhere.status_code, ok.status_code, replay.status_code]

        async def main() -> DurableOutcome:
            async with AsyncProgressClient() as client, anyio.create_task_group() as tg:
                tg.start_soon(vendor_side)
                return await client.durable(MemoryWaitStore(), webhooks=receiver).run(
                    server.start_url("replicate"), key="hooked", json={"input": {}},
                    profile="replicate", timeout=50)

        began = time.monotonic()
        out = anyio.run(main)
        ended = time.monotonic()
    assert out.ok and ended - began < 30  # not the 60 s safety poll
    start = json.loads(server.start_bodies["replicate"][0])
    assert start["webhook"].startswith(url + "/") and start["webhook_events_filter"] == [
        "completed"]
    assert got["codes"] == [401, 400, 400, 404, 200, 409]
    assert got["polls_before"] == 0  # refused webhooks changed nothing
    assert job.polls == 1 and job.starts == 1  # one GET confirmed
    assert ended - got["sent"] < 20  # woken, not the 60 s safety poll (figures: benchmarks)
    assert receiver.received == 1 and receiver.refused == 5
    logged = caplog.text
    assert SECRET not in logged and "v1," not in logged


def test_a_fal_webhook_wakes_the_wait_sync_client(server: VendorServer) -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    job = server.script("fal", ["COMPLETED"], result={"images": [7]})
    receiver = WebhookReceiver("http://placeholder", secrets={"fal": [raw]})
    with receiver.serve() as url:
        receiver.public_url = url

        def vendor_side() -> None:
            end = time.monotonic() + 60
            while not any("fal_webhook=" in path for _, path in server.requests):
                assert time.monotonic() < end
                time.sleep(0.01)
            path = next(p for _, p in server.requests if "fal_webhook=" in p)
            from urllib.parse import parse_qs, urlsplit

            hook = parse_qs(urlsplit(path).query)["fal_webhook"][0]
            body = json.dumps({"request_id": job.id, "status": "OK",
                               "payload": {"images": [7]}}).encode()
            time.sleep(0.2)
            httpx.post(hook, content=body, headers=fal_headers(key, body, job.id))

        sender = threading.Thread(target=vendor_side)
        sender.start()
        with ProgressClient() as client:
            out = client.durable(MemoryWaitStore(), webhooks=receiver).run(
                server.start_url("fal"), key="f", json={"prompt": "a cat"}, profile="fal",
                timeout=50)
        sender.join()
    assert out.ok and out.result == {"images": [7]}
    assert job.starts == 1 and job.polls == 1 and job.results == 1


def test_sync_and_async_cost_the_same_with_webhooks(server: VendorServer) -> None:
    """Without any webhook, both poll only on the safety schedule."""
    receiver = WebhookReceiver("http://127.0.0.1:9/hooks", secrets={"replicate": SECRET},
                               safety_interval=0.2)
    a = server.script("replicate", ["processing", "processing", "succeeded"])
    with ProgressClient() as client:
        sync_out = client.durable(MemoryWaitStore(), webhooks=receiver).run(
            server.start_url("replicate"), key="s", json={}, profile="replicate")
    b = server.script("replicate", ["processing", "processing", "succeeded"])

    async def go() -> DurableOutcome:
        async with AsyncProgressClient() as client:
            return await client.durable(MemoryWaitStore(), webhooks=receiver).run(
                server.start_url("replicate"), key="a", json={}, profile="replicate")

    async_out = anyio.run(go)
    assert sync_out.ok and async_out.ok
    assert a.requests == b.requests == sync_out.report.requests == async_out.report.requests
    gaps = [t1 - t0 for t0, t1 in zip(b.times, b.times[1:])]
    assert all(g >= 0.18 for g in gaps)  # the safety schedule, nothing faster


def webhook_jobs(n: int, safety: float = 60.0, rate: float = 200.0) -> dict[str, Any]:
    """``n`` Replicate runs on one async client, each ended by its webhook (``rate`` a
    second, once all have started): how long each took from its webhook to its outcome, and
    what each cost the server. Before the genuine webhooks, each job gets a forged and a stale
    one; right after its genuine one, the same again (a replay): the answers to those, and
    each job's polls before its genuine webhook (0: none woke a wait).
    ``benchmarks/webhook_jobs.py`` runs it with 1,000."""
    with vendor_server() as server:
        jobs = [server.script("replicate", ["succeeded"]) for _ in range(n)]
        receiver = WebhookReceiver("http://placeholder", secrets={"replicate": SECRET},
                                   safety_interval=safety)
        sent: dict[str, float] = {}
        ended: dict[str, float] = {}
        polls_before: dict[str, int] = {}
        refusals: list[tuple[str, int]] = []
        store = MemoryWaitStore()
        job_of: dict[str, Job] = {}  # a webhook token's job: the k-th start got jobs[k]
        with receiver.serve() as url:
            receiver.public_url = url

            async def vendor_side() -> None:
                # The jobs end once every wait is parked (started, sleeping on its safety
                # schedule), at ``rate`` webhooks a second: what is measured is the wake-up,
                # not the queue of 1,000 starts.
                while len(server.start_bodies.get("replicate", [])) < n:
                    await anyio.sleep(0.01)
                await anyio.sleep(0.5)
                async with httpx.AsyncClient(limits=httpx.Limits(max_connections=20)) as http:
                    body = json.dumps({"status": "succeeded"}).encode()

                    async def refused(hook: str, token: str) -> None:
                        # A forged one (another secret) and a stale one (10 min old): refused,
                        # and no wait is woken by them (none polled before its real one).
                        forged = await http.post(hook, content=body, headers=standard_headers(
                            body, secret=FORGED, msg_id=f"{token}-f"))
                        stale = await http.post(hook, content=body, headers=standard_headers(
                            body, msg_id=f"{token}-s", at=time.time() - 600))
                        refusals.extend([("forged", forged.status_code),
                                         ("stale", stale.status_code)])

                    async def post(hook: str, token: str) -> None:
                        headers = standard_headers(body, msg_id=token)
                        sent[token] = time.monotonic()
                        await http.post(hook, content=body, headers=headers)
                        # The same message again (a replay): 409 while the wait listens,
                        # 404 once it has ended.
                        replay = await http.post(hook, content=body, headers=headers)
                        refusals.append(("replayed", replay.status_code))

                    hooks = [json.loads(raw)["webhook"]
                             for raw in server.start_bodies["replicate"]]
                    for hook, job in zip(hooks, jobs):
                        job_of[hook.rsplit("/", 1)[1]] = job
                    async with anyio.create_task_group() as tg:
                        for hook in hooks:
                            tg.start_soon(refused, hook, hook.rsplit("/", 1)[1])
                            await anyio.sleep(1 / rate)
                    await anyio.sleep(0.5)
                    for token, job in job_of.items():
                        polls_before[token] = job.polls
                    async with anyio.create_task_group() as tg:
                        for hook in hooks:
                            tg.start_soon(post, hook, hook.rsplit("/", 1)[1])
                            await anyio.sleep(1 / rate)

            async def main() -> list[DurableOutcome]:
                outs: list[DurableOutcome] = []

                def handler(outcome: DurableOutcome) -> None:
                    ended[outcome.metadata] = time.monotonic()
                    outs.append(outcome)

                async with AsyncProgressClient(max_concurrency=50) as client, \
                        anyio.create_task_group() as tg:
                    tg.start_soon(vendor_side)
                    durable = client.durable(store, handler=handler, webhooks=receiver)
                    async with anyio.create_task_group() as runs:
                        for i in range(n):
                            runs.start_soon(lambda i=i: durable.run(
                                server.start_url("replicate"), key=f"j{i}", json={"input": {}},
                                profile="replicate", metadata=f"j{i}"))
                return outs

            began = time.monotonic()
            outs = anyio.run(main)
            took = time.monotonic() - began
        lags = []
        for key, at in ended.items():
            record = store.get(key)
            assert record is not None and record.hook_token is not None
            lags.append(at - sent[record.hook_token])
        return {"outs": outs, "jobs": jobs, "lags": sorted(lags), "took": took,
                "receiver": receiver, "refusals": refusals, "polls_before": polls_before}


@pytest.mark.e2e
def test_many_webhook_ended_jobs() -> None:
    n = int(os.environ.get("PROGRESS_WEBHOOK_N", "200"))
    got = webhook_jobs(n)
    outs, jobs = got["outs"], got["jobs"]
    assert len(outs) == n and all(o.ok for o in outs)
    assert all(j.starts == 1 and j.polls == 1 for j in jobs)  # one confirming GET each
    assert got["receiver"].received == n
    # Each job's forged, stale and replayed webhooks were refused (4xx) and woke nothing: a
    # replay is 409 while its wait listens, 404 once the wait has ended (its URL is gone).
    codes = Counter(got["refusals"])
    assert codes[("forged", 401)] == codes[("stale", 400)] == n, codes
    assert codes[("replayed", 409)] + codes[("replayed", 404)] == n, codes
    assert set(got["polls_before"].values()) == {0}  # none woken by a forged or stale one
    assert got["took"] < 60  # no wait reached its first safety poll
    # Each ends soon after its webhook (benchmarks/webhook_jobs.py measures it: under 1 s).
    assert len(got["lags"]) == n and got["lags"][-1] < 10


# -- the command line ----------------------------------------------------------------------


def test_cli_run_with_a_webhook(server: VendorServer, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.procs import free_port
    from progress_client.cli import main

    job = server.script("replicate", ["succeeded"])
    port = free_port()
    monkeypatch.setenv("PROGRESS_CLIENT_WEBHOOK_SECRET", SECRET)
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(main([
        "run", server.start_url("replicate"), "--profile", "replicate", "-d", '{"input": {}}',
        "--webhook-listen", f"127.0.0.1:{port}", "--webhook-url",
        f"http://127.0.0.1:{port}/hooks", "--json", "--timeout", "50"])))
    began = time.monotonic()
    runner.start()
    hook = _hook_urls(server, "replicate", 1)[0]
    assert hook.startswith(f"http://127.0.0.1:{port}/hooks/")
    body = _prediction(server, 1)
    end = time.monotonic() + 30
    while True:  # the receiver may still be starting
        try:
            answer = httpx.post(hook, content=body, headers=standard_headers(body))
            break
        except httpx.TransportError:
            assert time.monotonic() < end
            time.sleep(0.05)
    runner.join(60)
    assert answer.status_code == 200 and codes == [0]
    (out,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out["outcome"] == "succeeded" and job.polls == 1
    assert time.monotonic() - began < 40


def test_cli_webhook_options_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    from progress_client.cli import main

    code = main(["run", "http://127.0.0.1:9/x", "--profile", "replicate", "--webhook-url",
                 "http://127.0.0.1:9/hooks"])
    assert code == 2 and "--webhook-listen" in capsys.readouterr().err
    code = main(["run", "http://127.0.0.1:9/x", "--profile", "replicate", "--webhook-listen",
                 "127.0.0.1:9", "--webhook-url", "http://127.0.0.1:9/h", "--webhook-secret",
                 "whsec_%%%"])
    err = capsys.readouterr().err
    assert code == 2 and "whsec_" in err and "%%%" not in err


# -- trio, and AssemblyAI's shared-secret header ----------------------------------------------


def test_a_webhook_wakes_a_wait_on_trio(server: VendorServer) -> None:
    job = server.script("replicate", ["succeeded"])
    receiver = WebhookReceiver("http://placeholder", secrets={"replicate": SECRET})
    with receiver.serve() as url:
        receiver.public_url = url

        async def vendor_side() -> None:
            hook = (await anyio.to_thread.run_sync(_hook_urls, server, "replicate", 1))[0]
            await anyio.sleep(0.2)
            body = _prediction(server, 1)
            async with httpx.AsyncClient() as http:
                assert (await http.post(hook, content=body,
                                        headers=standard_headers(body))).status_code == 200

        async def main() -> DurableOutcome:
            async with AsyncProgressClient() as client, anyio.create_task_group() as tg:
                tg.start_soon(vendor_side)
                return await client.durable(MemoryWaitStore(), webhooks=receiver).run(
                    server.start_url("replicate"), key="t", json={"input": {}},
                    profile="replicate", timeout=50)

        began = time.monotonic()
        out = anyio.run(main, backend="trio")
    assert out.ok and job.polls == 1 and time.monotonic() - began < 30


class AssemblyAI(LoopbackHTTP):
    """AssemblyAI's transcripts on 127.0.0.1, as documented: POST /v2/transcript answers the
    transcript object with ``"status": "queued"`` and echoes ``webhook_url``,
    ``webhook_auth`` and ``webhook_auth_header_name`` (never the value)
    (https://www.assemblyai.com/docs/api-reference/transcripts/submit); GET
    /v2/transcript/{id} answers it with status queued, processing, completed or error
    (https://www.assemblyai.com/docs/api-reference/transcripts/get); when it ends, it POSTs
    ``{"transcript_id", "status"}`` to the webhook URL with the auth header
    (https://www.assemblyai.com/docs/deployment/webhooks)."""

    def __init__(self) -> None:
        self.submitted: dict[str, Any] = {}
        self.status = "queued"
        self.gets = 0
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.submitted = json.loads(raw)
                send_json(self, 200, outer.transcript())

            def do_GET(self) -> None:
                outer.gets += 1
                send_json(self, 200, outer.transcript())

        super().__init__(Handler)
        self.url = self.origin
        self.start()

    def transcript(self) -> dict[str, Any]:
        s = self.submitted
        return {"id": "5551722-f677-48a6-a8d4-d8fd57c1b1b8", "status": self.status,
                "audio_url": s.get("audio_url"),
                "text": "Hello." if self.status == "completed" else None,
                "webhook_url": s.get("webhook_url"),
                "webhook_auth": bool(s.get("webhook_auth_header_value")),
                "webhook_auth_header_name": s.get("webhook_auth_header_name"), "error": None}



#: AssemblyAI's profile (a built-in on the branch that adds the profiles; here as a file).
ASSEMBLYAI_PROFILE = """
name = "assemblyai"
description = "AssemblyAI transcripts: POST /v2/transcript, GET /v2/transcript/{id}"
sources = ["https://www.assemblyai.com/docs/api-reference/transcripts/get"]
[status]
path = "status"
pending = ["queued", "processing"]
succeeded = ["completed"]
failed = ["error"]
[error]
paths = ["error"]
[start]
method = "POST"
status_url = [{ template = "{start_url}/{id}", id = "id" }]
status_in_body = true
[result]
kind = "document"
"""


def test_assemblyai_shared_secret_header(tmp_path: Any) -> None:
    profile = tmp_path / "assemblyai.toml"
    profile.write_text(ASSEMBLYAI_PROFILE)
    vendor = AssemblyAI()
    shared = "a-long-random-shared-secret"
    receiver = WebhookReceiver("http://placeholder", secrets={"assemblyai": shared})
    try:
        with receiver.serve() as url:
            receiver.public_url = url

            def vendor_side() -> None:
                end = time.monotonic() + 60
                while not vendor.submitted:
                    assert time.monotonic() < end
                    time.sleep(0.01)
                time.sleep(0.3)  # the start's answer is read: queued (a status in the body)
                hook = vendor.submitted["webhook_url"]
                name = vendor.submitted["webhook_auth_header_name"]
                body = json.dumps({"transcript_id": vendor.transcript()["id"],
                                   "status": "completed"}).encode()
                wrong = httpx.post(hook, content=body, headers={name: "guess"})
                assert wrong.status_code == 401
                vendor.status = "completed"
                ok = httpx.post(hook, content=body, headers={name: shared})
                assert ok.status_code == 200

            sender = threading.Thread(target=vendor_side)
            sender.start()
            with ProgressClient() as client:
                store = MemoryWaitStore()
                out = client.durable(store, webhooks=receiver).run(
                    f"{vendor.url}/v2/transcript", key="a",
                    json={"audio_url": "https://example.com/a.mp3"}, profile=str(profile),
                    timeout=50)
            sender.join()
            record = store.get("a")
    finally:
        vendor.close()
    assert out.ok and out.status == "completed" and vendor.gets == 1  # one confirming GET
    assert vendor.submitted["webhook_url"].startswith(url + "/")
    assert vendor.submitted["webhook_auth_header_value"] == shared
    assert record is not None and shared not in record.to_json()


@pytest.mark.e2e
def test_cli_run_with_store_and_webhook_killed_then_resumed(
    server: VendorServer, tmp_path: Any, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``run --store --webhook-*`` killed after the start; ``resume`` with the same
    ``--webhook-*`` receives the vendor's webhook at the same URL and ends the job."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from benchmarks.procs import free_port
    from progress_client.cli import main

    job = server.script("replicate", ["succeeded"])
    port, db = free_port(), tmp_path / "hooks.db"
    hooks = ["--webhook-listen", f"127.0.0.1:{port}", "--webhook-url",
             f"http://127.0.0.1:{port}/hooks"]
    monkeypatch.setenv("PROGRESS_CLIENT_WEBHOOK_SECRET", SECRET)
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "run", server.start_url("replicate"),
         "--profile", "replicate", "-d", '{"input": {}}', "--store", str(db), "--key", "k1",
         "--json", *hooks], cwd=root, env={**os.environ}, stdout=subprocess.DEVNULL)
    try:
        hook = _hook_urls(server, "replicate", 1)[0]
        end = time.monotonic() + 30
        while not _started(db):  # the start's answer is kept: killed after it
            assert time.monotonic() < end
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(main(
        ["resume", "--store", str(db), "--json", *hooks])))
    runner.start()
    body = _prediction(server, 1)
    end = time.monotonic() + 30
    while True:  # until the resumed wait's receiver answers for its token
        try:
            answer = httpx.post(hook, content=body,
                                headers=standard_headers(body, msg_id=f"m{time.monotonic()}"))
        except httpx.TransportError:
            answer = None
        if answer is not None and answer.status_code == 200:
            break
        assert time.monotonic() < end
        time.sleep(0.1)
    runner.join(60)
    (out,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert codes == [0] and out["key"] == "k1" and out["outcome"] == "succeeded"
    assert job.starts == 1 and job.polls == 1
    assert SECRET.encode() not in db.read_bytes()


def _started(db: Any) -> bool:
    from progress_client.waitstore import SQLiteWaitStore

    with SQLiteWaitStore(db) as store:
        return any(r.status_url for r in store.unfinished())
