"""``progress-client run`` and the job options of ``wait`` (``--profile``, ``--cancel-on-exit``,
``--long-poll``, words added or replaced), end to end: real processes against the vendor
imitations (``tests/vendors.py``) and the reference server on 127.0.0.1. Gaps between requests
are measured at the server; requests are counted there. Independent runs go side by side to
keep the file quick."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from . import serving
from .serving import ctrl_c, fixture
from .vendors import RUNNING, START_BODIES, Job, VendorServer, video_bytes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--initial", "0.05", "--step", "0.05", "--max", "0.2"]
T = TypeVar("T")


server = fixture(VendorServer, scope="module")


@pytest.fixture(autouse=True)
def _no_leftover_jobs(server: VendorServer) -> Iterator[None]:
    """A job a test scripted but never started (its process gave up first) must not be the
    next test's: each test starts with empty start queues."""
    yield
    with server.lock:
        server.pending.clear()


class Ran:
    def __init__(self, p: subprocess.CompletedProcess[str], elapsed: float) -> None:
        self.code, self.stdout, self.stderr, self.elapsed = (
            p.returncode, p.stdout, p.stderr, elapsed)

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.stdout)
        return out


def cli(*args: str, timeout: float = 30) -> Ran:
    started = time.monotonic()
    # A safety net: a wait that went wrong ends in 15 s (a later --timeout wins).
    p = serving.cli(args[0], "--timeout", "15", *args[1:], timeout=timeout, clean=True)
    return Ran(p, time.monotonic() - started)


def together(*calls: Callable[[], T]) -> list[T]:
    """Run independent processes side by side."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda f: f(), calls))


def body(vendor: str) -> list[str]:
    return ["-d", json.dumps(START_BODIES[vendor])]


# -- the result in hand ------------------------------------------------------------------------


def test_run_ends_with_the_result_in_hand(server: VendorServer, tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    video = video_bytes(6 * 1024 * 1024 + 123)
    out = tmp_path / "video.mp4"
    azure = server.script("azure", ["NotStarted", "Running", "Succeeded"], result={"pages": 3})
    fal = server.script("fal", ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"],
                        result={"images": [{"url": "https://cdn/x.png"}]})
    replicate = server.script("replicate", ["starting", {"status": "succeeded",
                                                         "output": ["https://x/out.png"]}])
    stability = server.script("stability", ["in-progress", "in-progress", "done"], result=video)
    a, f, r, s = together(
        lambda: cli("run", server.start_url("azure"), "--profile", "azure", *body("azure"),
                    *FAST),
        lambda: cli("run", server.start_url("fal"), "--profile", "fal", *body("fal"), *FAST),
        lambda: cli("run", server.start_url("replicate"), "--profile", "replicate",
                    *body("replicate"), *FAST),
        lambda: cli("run", server.start_url("stability"), "--profile", "stability",
                    "-F", f"image=@{image}", "-F", "seed=0", "--output", str(out), *FAST,
                    "--json"),
    )
    # A JSON result goes to stdout, the summary to stderr.
    assert (a.code, json.loads(a.stdout)) == (0, {"pages": 3}), a.stderr
    assert "Succeeded after 5 requests" in a.stderr and azure.results == 1
    assert (f.code, json.loads(f.stdout)) == (0, {"images": [{"url": "https://cdn/x.png"}]})
    assert fal.requests == 5 and fal.results == 1
    assert (r.code, json.loads(r.stdout)) == (0, ["https://x/out.png"]), r.stderr
    assert replicate.requests == 3  # the start answer is the first status
    # Stability: 202 twice, then 200 with the video: several MiB streamed to the file.
    assert s.code == 0, s.stderr
    doc = s.json()
    assert doc["outcome"] == "succeeded" and doc["output"] == str(out)
    assert doc["result"] is None and doc["result_bytes"] == len(video)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(video).hexdigest()
    assert not out.with_name(out.name + ".part").exists()
    # The 200 poll's body is the video: streamed to the file as it comes, never fetched twice.
    assert stability.polls == 3 and doc["requests"] == stability.requests == 4
    assert doc["status_url"].endswith(f"/v2beta/image-to-video/result/{stability.id}")
    start = server.start_bodies["stability"][-1]
    assert b'name="image"; filename="cat.png"' in start and b'name="seed"' in start


def test_run_follows_a_status_url_template(server: VendorServer) -> None:
    # No profile: the start answer {"id"} goes into the template (relative to the start URL).
    job = server.script("runway", ["PENDING", "RUNNING", "SUCCEEDED"])
    ran = cli("run", server.start_url("runway"), *body("runway"), "--status-url",
              "/v1/tasks/{id}", *FAST, "--json")
    assert ran.code == 0, ran.stderr
    out = ran.json()
    assert out["status"] == "SUCCEEDED" and out["result"]["id"] == job.id
    assert out["requests"] == job.requests == 4
    assert json.loads(server.start_bodies["runway"][-1]) == START_BODIES["runway"]


# -- hints -------------------------------------------------------------------------------------

#: (vendor, hint header, value, seconds, the word that ends it).
HINTS = [
    ("azure", "retry-after-ms", "300", 0.3, "Succeeded"),
    ("azure", "x-ms-retry-after-ms", "350", 0.35, "Succeeded"),
    ("openai-batch", "openai-poll-after-ms", "400", 0.4, "completed"),
    ("github-actions", "X-Poll-Interval", "1", 1.0,
     {"status": "completed", "conclusion": "success"}),
    ("replicate", "Retry-After", "1", 1.0, "succeeded"),
]


def test_each_hint_header_is_honoured(server: VendorServer) -> None:
    # One gap per job, measured at the imitation: without the hint it would be 0.05 s.
    jobs = [server.script(vendor, [RUNNING[vendor], end], hints={name: value}, started=True)
            for vendor, name, value, _, end in HINTS]
    start = server.script("azure", ["Running", "Succeeded"], start_hints={"Retry-After": "1"})
    runs = together(
        *[(lambda v=v, j=j: cli("wait", server.status_url(j), "--profile", v, *FAST, "--json"))
          for (v, *_), j in zip(HINTS, jobs)],
        lambda: cli("run", server.start_url("azure"), "--profile", "azure", *body("azure"),
                    *FAST, "--json"),
    )
    for (vendor, name, _, seconds, _), job, ran in zip(HINTS, jobs, runs):
        assert ran.code == 0, (vendor, ran.stderr)
        assert ran.json()["hint_waits"] == 1
        [gap] = [b - a for a, b in zip(job.times, job.times[1:])]
        assert seconds - 0.01 <= gap <= seconds + 0.3, (name, gap)
    # Retry-After on the start response (Azure's 202) delays the first poll.
    ran = runs[-1]
    assert ran.code == 0, ran.stderr
    assert 0.99 <= start.times[0] - start.started <= 1.3
    assert ran.json()["hint_waits"] == 1


def test_a_hint_past_the_deadline_ends_the_wait_at_once(server: VendorServer) -> None:
    job = server.script("github-actions", ["in_progress"], hints={"X-Poll-Interval": "60"},
                        started=True)
    slow = server.script("openai-batch", ["in_progress"], hints={"openai-poll-after-ms": "30000"})
    later = server.script("azure", ["Running"], start_hints={"Retry-After": "60"})
    a, b, c = together(
        lambda: cli("wait", server.status_url(job), "--profile", "github-actions", *FAST,
                    "--timeout", "25", "--json"),
        lambda: cli("run", server.start_url("openai-batch"), "--profile", "openai-batch",
                    *body("openai-batch"), *FAST, "--timeout", "25"),
        lambda: cli("run", server.start_url("azure"), "--profile", "azure", *body("azure"),
                    *FAST, "--timeout", "25", "--json"),
    )
    # Far from the 25 s deadline (start-up on a busy machine included): each ends as soon as
    # the hint is read.
    assert a.code == 3 and a.elapsed < 12
    out = a.json()
    assert out["outcome"] == "timeout" and out["requests"] == 1 == job.polls
    assert "the server asked to be polled again in 60s, after the deadline" in out["error"]
    assert out["resume_token"] and json.loads(out["resume_token"])["url"].endswith(job.id)
    assert b.code == 3 and b.elapsed < 12
    assert "polled again in 30s" in b.stderr and slow.polls == 1
    # The exact command that goes on waiting: the status URL and the token.
    assert "progress-client wait http" in b.stderr and " --resume '{" in b.stderr
    # The start's own Retry-After (Azure's 202) follows the same rule: no poll at all.
    assert c.code == 3 and c.elapsed < 12 and later.polls == 0
    out = c.json()
    assert "polled again in 60s" in out["error"] and out["resume_token"]
    assert out["status_url"] == server.status_url(later)


# -- the remote cancel -------------------------------------------------------------------------


#: A deadline that a start-up on a busy machine leaves time in: the job is started and polled
#: before it passes, so that a cancel can be sent.
DEADLINE = "6"


def test_cancel_on_exit_sends_one_cancel_on_timeout(server: VendorServer) -> None:
    fal = server.script("fal", ["IN_PROGRESS"])
    gh = server.script("github-actions", ["in_progress"], started=True)
    refused = server.script("replicate", ["processing"], refuse_cancel=True)
    luma = server.script("luma", ["dreaming"])
    a, b, c, d = together(
        lambda: cli("run", server.start_url("fal"), "--profile", "fal", *body("fal"), *FAST,
                    "--timeout", DEADLINE, "--cancel-on-exit", "--json"),
        lambda: cli("wait", server.status_url(gh), "--profile", "github-actions", *FAST,
                    "--timeout", DEADLINE, "--cancel-on-exit"),
        lambda: cli("run", server.start_url("replicate"), "--profile", "replicate",
                    *body("replicate"), *FAST, "--timeout", DEADLINE, "--cancel-on-exit"),
        lambda: cli("run", server.start_url("luma"), "--profile", "luma", *body("luma"),
                    *FAST, "--timeout", DEADLINE, "--cancel-on-exit", "--json"),
    )
    assert a.code == 3 and a.json()["cancelled_remote"] is True and fal.cancels == 1
    assert a.json()["requests"] == fal.requests  # the cancel is counted, at both ends
    assert b.code == 3 and gh.cancels == 1  # a plain wait finds the URL from the status
    assert "the remote job was cancelled" in b.stderr
    assert c.code == 3 and refused.cancels == 1
    assert "sent but not accepted" in c.stderr
    assert d.code == 3 and d.json()["cancelled_remote"] is None and luma.cancels == 0


def _interrupt(args: list[str], job: Job) -> Ran:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "progress_client", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 30
    while job.polls < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # the job is being polled: the CLI is up and waiting
    out, err = ctrl_c(proc)
    ran = Ran(subprocess.CompletedProcess(args, proc.returncode, out, err),
              time.monotonic() - started)
    assert "Traceback" not in err + out, err
    return ran


def test_ctrl_c_sends_one_cancel(server: VendorServer) -> None:
    fal = server.script("fal", ["IN_PROGRESS"])
    dbx = server.script("databricks-run", ["RUNNING"], started=True)
    a, b = together(
        lambda: _interrupt(["run", server.start_url("fal"), "--profile", "fal", *body("fal"),
                            *FAST, "--cancel-on-exit"], fal),
        lambda: _interrupt(["wait", server.status_url(dbx), "--profile", "databricks-run",
                            *FAST, "--cancel-on-exit", "--json"], dbx),
    )
    assert a.code == 130 and "interrupted" in a.stderr
    assert "the remote job was cancelled" in a.stderr and fal.cancels == 1
    # How to go on: the exact command, with the job's status URL and the token.
    assert (f"to go on where this wait stopped: progress-client wait "
            f"{server.status_url(fal)} --resume '{{") in a.stderr
    assert b.code == 130 and dbx.cancels == 1
    out = b.json()
    assert out["outcome"] == "interrupted" and out["cancelled_remote"] is True
    assert json.loads(out["resume_token"])["url"] == server.status_url(dbx)


def test_ctrl_c_on_run_with_json_prints_the_status_url_and_token(server: VendorServer) -> None:
    fal = server.script("fal", ["IN_PROGRESS"])
    ran = _interrupt(["run", server.start_url("fal"), "--profile", "fal", *body("fal"),
                      *FAST, "--json"], fal)
    assert ran.code == 130
    out = ran.json()
    assert out["outcome"] == "interrupted" and out["status_url"] == server.status_url(fal)
    token = json.loads(out["resume_token"])
    assert token["url"] == server.status_url(fal) and token["state"]["requests"] >= 2


# -- the start is sent once --------------------------------------------------------------------


def test_the_start_is_not_sent_twice_unless_the_profile_says_so(
    server: VendorServer, tmp_path: Path
) -> None:
    idempotent = tmp_path / "replicate-idempotent.toml"
    idempotent.write_text('extends = "replicate"\n\n[start]\nidempotent = true\n')
    once = server.script("replicate", ["starting", "succeeded"], drop_starts=1)
    a = cli("run", server.start_url("replicate"), "--profile", "replicate",
            *body("replicate"), *FAST)
    bare = server.script("runway", ["SUCCEEDED"], drop_starts=1)
    b = cli("run", server.start_url("runway"), *body("runway"), "--status-url", "/v1/tasks/{id}",
            *FAST)
    server.discard(once)
    server.discard(bare)
    again = server.script("replicate", ["starting", "succeeded"], drop_starts=1)
    c = cli("run", server.start_url("replicate"), "--profile", str(idempotent),
            *body("replicate"), *FAST, "--json")
    assert a.code == 4 and "it was not sent again" in a.stderr
    assert once.starts == 1 and once.polls == 0
    assert b.code == 4 and bare.starts == 1 and bare.polls == 0
    assert c.code == 0, c.stderr
    assert again.starts == 2 and again.polls == 2 and c.json()["errors"] == 1


# -- words, profiles, long-polling -------------------------------------------------------------


def test_success_and_failure_add_and_only_replaces(server: VendorServer) -> None:
    def job(phases: list[Any]) -> str:
        return server.status_url(server.script("runpod", phases, started=True))

    cases = [
        # (args, exit code): --failure adds; the default 'failed' still ends the wait.
        ([job(["IN_PROGRESS", "FAILED"]), "--failure", "TIMED_OUT"], 1),
        ([job(["IN_PROGRESS", "TIMED_OUT"]), "--failure", "timed_out"], 1),
        # --only-failure replaces: FAILED is no longer an end.
        ([job(["IN_PROGRESS", "FAILED"]), "--only-failure", "TIMED_OUT", "--timeout", "0.6"],
         3),
        # The same with a profile: its words, plus or instead of these.
        ([job(["IN_PROGRESS", "DONE"]), "--profile", "runpod", "--success", "DONE"], 0),
        ([job(["COMPLETED"]), "--profile", "runpod", "--only-success", "DONE", "--timeout",
          "0.6"], 3),
        ([job(["IN_PROGRESS", "FAILED"]), "--profile", "runpod", "--success", "DONE"], 1),
        # Celery without its profile: --failure revoked keeps FAILURE a failure.
        ([server.status_url(server.script("celery-flower", ["STARTED", "FAILURE"],
                                          started=True)),
          "--status-field", "state", "--failure", "revoked"], 1),
    ]
    runs = together(*[(lambda a=a: cli("wait", *a, *FAST)) for a, _ in cases])
    for (args, code), ran in zip(cases, runs):
        assert ran.code == code, (args[1:], ran.stderr)


@pytest.mark.parametrize(("args", "said"), [
    (["--success", "a", "--only-success", "b"], "--success adds words and --only-success"),
    (["--profile", "runpod", "--status-field", "x"], "--status-field cannot be used"),
    (["--profile", "no-such-profile"], "unknown profile 'no-such-profile'"),
    (["--long-poll=99"], "--long-poll takes"),
    (["--profile", "runpod", "--only-success", "FAILED"], "profile runpod with the command"),
])
def test_wait_usage_errors_exit_2_with_one_line(args: list[str], said: str) -> None:
    ran = cli("wait", "http://127.0.0.1:9/jobs/1", *args)
    assert ran.code == 2 and said in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1


def test_a_bad_profile_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "mine.toml"
    bad.write_text('[status]\npath = "state"\n\n[[outcome]]\nwhen = { feild = 1 }\n'
                   'then = "failed"\n')
    runs = together(
        lambda: cli("wait", "http://127.0.0.1:9/jobs/1", "--profile", str(bad)),
        lambda: cli("run", "http://127.0.0.1:9/start", "--profile", str(bad)),
    )
    for ran in runs:
        assert ran.code == 2
        [line] = ran.stderr.strip().splitlines()
        assert str(bad) in line and "outcome[0].when[0]: unknown key 'feild'" in line


@pytest.mark.parametrize(("args", "said"), [
    (["-d", "{}", "-F", "a=b"], "-d and -F"),
    (["-X", "NOT A METHOD"], "not an HTTP method"),
    (["-d", "@/nonexistent/body.json"], "cannot read it"),
    (["-F", "image=@/nonexistent/cat.png"], "cannot read it"),
    (["-F", "novalue"], "NAME=VALUE"),
    (["--output", "/nonexistent/dir/out.mp4"], "cannot write"),
    (["--status-url", "https://api.example.com/jobs"], "{id}"),
])
def test_run_usage_errors_exit_2_before_any_request(
    server: VendorServer, args: list[str], said: str
) -> None:
    before = len(server.requests)
    ran = cli("run", server.start_url("runway"), *args)
    assert ran.code == 2 and said in ran.stderr
    assert len(server.requests) == before


def test_run_refuses_a_url_that_is_not_http() -> None:
    ran = cli("run", "notaurl")
    assert ran.code == 2 and "not an http(s) URL" in ran.stderr


def test_long_poll_is_asked_for_and_falls_back(server: VendorServer) -> None:
    # The imitation does not hold polls (no Preference-Applied): the first poll asks, the
    # rest follow the schedule without asking again.
    job = server.script("fal", ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"], started=True)
    ran = cli("wait", server.status_url(job), "--profile", "fal", "--long-poll=2", *FAST,
              "--json")
    assert ran.code == 0, ran.stderr
    asked = [h.get("prefer") for p, h in server.headers if p.endswith(f"{job.id}/status")]
    assert asked == ["wait=2", None, None]
    assert ran.json()["mode"] == "poll"


def test_long_poll_against_a_server_that_holds_polls() -> None:
    from progress_client.server import MemoryStore, create_app, serve_in_thread

    store = MemoryStore()
    with serve_in_thread(create_app(store)) as running:
        running.call(lambda: store.update("lp", status="running", progress=10))

        def finish_later() -> None:
            time.sleep(1.0)
            running.call(lambda: store.update("lp", status="completed", progress=100))

        writer = threading.Thread(target=finish_later)
        writer.start()
        ran = cli("wait", f"{running.url}/jobs/lp", "--long-poll", "--json")
        writer.join()
    assert ran.code == 0, ran.stderr
    out = ran.json()
    # Held polls: the change is seen within the poll that was waiting for it, not after the
    # 3 s schedule; two or three requests in all.
    assert out["mode"] == "long-poll" and out["requests"] <= 3
    assert out["elapsed_s"] < 2.5


# -- wall time ---------------------------------------------------------------------------------


def test_run_timeout_is_wall_time_from_the_process_start(server: VendorServer) -> None:
    # A start request that is never answered, and a job that never ends: exit 3 at the
    # deadline counted from the launch, start-up included: before the start request's arrival
    # + T (a deadline counted from the end of the imports would end after it), whatever the
    # start-up costs on this machine. How close to T is a figure (benchmarks.startup).
    from benchmarks.startup import StubbornServer

    timeout = 5.0
    endless = server.script("fal", ["IN_PROGRESS"])
    with StubbornServer() as stubborn:
        silent = stubborn.url("silent")
        t0 = time.monotonic()
        a, b = together(
            lambda: cli("run", silent, "-d", "{}", "--timeout", f"{timeout:g}", "--json"),
            lambda: cli("run", server.start_url("fal"), "--profile", "fal", *body("fal"),
                        *FAST, "--timeout", f"{timeout:g}", "--json"),
        )
        arrivals = stubborn.arrivals(silent)
        assert len(arrivals) == 1  # the start request was sent, once
    for ran, sent in ((a, arrivals[0]), (b, endless.started)):
        assert ran.code == 3, ran.stderr
        assert timeout - 0.05 <= ran.elapsed < (sent - t0) + timeout, ran.elapsed
        assert ran.json()["outcome"] == "timeout"
    assert a.json()["status"] is None and a.json()["status_url"] is None
    assert b.json()["status"] == "IN_PROGRESS" and endless.polls >= 3


#: Reports the exit code of ``main()`` run as the process's command line, and which of the
#: given modules were imported for real by then (a deferred stand-in does not count).
PROBE = """
import json, sys
watch = json.loads(sys.argv[1])
sys.argv = ["progress-client", *sys.argv[2:]]
from progress_client.cli import main
from progress_client.cli._imports import is_loaded
code = main()
print(json.dumps({"code": code, "loaded": [m for m in watch if is_loaded(m)]}))
"""


def test_run_imports_only_what_it_uses(server: VendorServer) -> None:
    # As wait: the sync client alone; no event loop, no rich off a terminal, no server; the
    # profile machinery only with --profile.
    watch = ["anyio", "trio", "rich", "progress_client.drivers.aio", "progress_client.server",
             "starlette", "httpx_sse", "httpx", "progress_client.drivers.sync",
             "progress_client.profiles.profile", "jmespath"]
    loaded = {}
    for extra in ([], ["--profile", "fal"]):
        server.script("fal", ["COMPLETED"], result={"a": 1})
        p = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps(watch), "run", server.start_url("fal"),
             *extra, "-d", "{}", "--initial", "0.05", "-q"],
            capture_output=True, text=True, timeout=30, cwd=ROOT,
        )
        out = json.loads(p.stdout.strip().splitlines()[-1])
        assert out["code"] == 0, p.stderr
        loaded[bool(extra)] = out["loaded"]
    assert loaded[False] == ["httpx", "progress_client.drivers.sync"]
    assert loaded[True] == ["httpx", "progress_client.drivers.sync",
                            "progress_client.profiles.profile", "jmespath"]
