"""``progress-client wait`` on many jobs in one process, end to end on 127.0.0.1: several URLs
and ``--from FILE`` (text and JSON lines, stdin), ``--any``, the exit code (the highest of the
jobs'), ``--json`` lines, the live table on a pseudo-terminal (redrawn at most a few times a
second), Ctrl-C (exit 130 with every job's resume token), usage errors before any request,
``--rate-limit`` against an imitation of GitHub's rate-limit headers, and 1,000 jobs in one
process without a thread per job."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import serving
from .kit import JobServer, Reply
from .ratelimited import RateLimitedApi
from .serving import ctrl_c, fixture
from .vendors import START_BODIES, VendorServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST = ["--initial", "0.2", "--step", "0.1", "--max", "0.5"]


server = fixture(JobServer)


def cli(*args: str, stdin: str | None = None, timeout: float = 120
        ) -> subprocess.CompletedProcess[str]:
    return serving.cli(*args, stdin=stdin, timeout=timeout, clean=True)


def lines(out: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The per-job objects and the summary of ``--json``'s output (every line parsed)."""
    docs = [json.loads(line) for line in out.splitlines()]
    assert docs and "summary" in docs[-1] and all("summary" not in d for d in docs[:-1])
    return docs[:-1], docs[-1]["summary"]


def quick(server: JobServer, name: str, end: str = "done") -> str:
    """A job that ends after a few polls of the FAST schedule."""
    return server.job(name, [(0, "running"), (0.3, {"status": "running", "progress": 50}),
                             (0.6, end)]).url


# -- many URLs, --from, --json ---------------------------------------------------------------


def test_several_urls_all_succeed(server: JobServer) -> None:
    urls = [quick(server, f"ok{i}") for i in range(3)]
    p = cli("wait", *urls, *FAST, "--timeout", "60")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("3 jobs: 3 succeeded;"), p.stdout
    for url in urls:  # a line per ended job on stderr, with its own summary
        assert re.search(rf"^{re.escape(url)}: done after \d+ requests", p.stderr, re.M)
    # requests: as the server counted them
    served = sum(len(server.requests(f"/jobs/ok{i}")) for i in range(3))
    assert f"; {served} requests in " in p.stdout


def test_from_a_text_file_and_json_lines(server: JobServer, tmp_path: Path) -> None:
    a, b, c = (quick(server, n) for n in ("a", "b", "c"))
    d = server.job("d", [(0, {"state": "RUNNING"}), (0.4, {"state": "SUCCEEDED"})]).url
    jobs = tmp_path / "jobs.txt"
    profile = _state_profile(tmp_path)
    jobs.write_text(f"# nightly renders\n{a}\n\n   {b}  \n"
                    f'{{"url": "{c}", "key": "render-c"}}\n'
                    f'{{"url": "{d}", "key": 7, "profile": "{profile}"}}\n')
    p = cli("wait", "--from", str(jobs), *FAST, "--timeout", "60", "--json")
    assert p.returncode == 0, p.stderr
    objs, summary = lines(p.stdout)
    assert sorted(o["key"] for o in objs) == ["1", "2", "7", "render-c"]
    assert {o["url"] for o in objs} == {a, b, c, d}
    for o in objs:
        assert o["outcome"] == "succeeded" and o["requests"] >= 1
        assert "budget_delays" in o and "budget_delay_ms" in o and "saved_requests" in o
    by_key = {o["key"]: o for o in objs}
    assert by_key["7"]["status"] == "SUCCEEDED"  # read with the line's own profile
    assert summary["jobs"] == 4 and summary["succeeded"] == 4 and summary["exit_code"] == 0
    assert summary["requests"] == sum(o["requests"] for o in objs)


def _state_profile(tmp_path: Path) -> str:
    path = tmp_path / "state.toml"
    path.write_text('description = "a job API with a state field"\n[status]\npath = "state"\n'
                    'pending = ["RUNNING"]\nsucceeded = ["SUCCEEDED"]\nfailed = ["FAILED"]\n')
    return str(path)


def test_from_stdin_with_urls_on_the_command_line_too(server: JobServer) -> None:
    a, b = quick(server, "a"), quick(server, "b")
    p = cli("wait", a, "--from", "-", *FAST, "--timeout", "60", stdin=f"{b}\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("2 jobs: 2 succeeded;")


# -- exit codes --------------------------------------------------------------------------------


def test_one_failed_exits_1(server: JobServer) -> None:
    p = cli("wait", quick(server, "ok"), quick(server, "bad", "failed"), *FAST,
            "--timeout", "60")
    assert p.returncode == 1, p.stderr
    assert "failed: the job ended with status 'failed'" in p.stderr
    assert p.stdout.startswith("2 jobs: 1 succeeded, 1 failed;")


def test_the_highest_code_wins_and_a_timeout_says_how_to_resume(server: JobServer) -> None:
    held = server.job("held", [(0, "running")]).url
    p = cli("wait", quick(server, "ok"), quick(server, "bad", "failed"), held, *FAST,
            "--timeout", "6", "--json")
    assert p.returncode == 3, p.stderr  # timeout (3) over failed (1) over ok (0)
    objs, summary = lines(p.stdout)
    outcomes = {o["key"]: o["outcome"] for o in objs}
    assert outcomes == {"1": "succeeded", "2": "failed", "3": "timeout"}
    [late] = [o for o in objs if o["outcome"] == "timeout"]
    assert json.loads(late["resume_token"])["url"] == held
    assert summary["exit_code"] == 3 and summary["timeout"] == 1
    # --timeout is for the whole set: the command ended within it (and a little start-up)
    assert summary["elapsed_s"] < 15


def test_an_error_exits_4_above_a_timeout(server: JobServer) -> None:
    server.script("gone", [Reply(404, {"detail": "no such job"})])
    p = cli("wait", server.url("gone"), server.job("held", [(0, "running")]).url, *FAST,
            "--timeout", "3")
    assert p.returncode == 4, p.stderr
    assert "timed out" in p.stdout and "1 error" in p.stdout
    assert "to go on where this wait stopped: progress-client wait " + server.url("held") \
        in p.stderr


# -- --any ---------------------------------------------------------------------------------------


def test_any_stops_at_the_first_job_to_end(server: JobServer) -> None:
    held = [server.job(f"held{i}", [(0, "running")]).url for i in range(3)]
    started = time.monotonic()
    p = cli("wait", *held, quick(server, "first"), *FAST, "--timeout", "60", "--any", "--json")
    assert time.monotonic() - started < 30
    assert p.returncode == 0, p.stderr
    objs, summary = lines(p.stdout)
    by_key = {o["key"]: o for o in objs}
    assert by_key["4"]["outcome"] == "succeeded"
    assert [by_key[k]["outcome"] for k in "123"] == ["cancelled"] * 3
    assert summary["cancelled"] == 3 and summary["exit_code"] == 0


def test_any_takes_the_code_of_the_first_to_end(server: JobServer) -> None:
    held = server.job("held", [(0, "running")]).url
    p = cli("wait", held, quick(server, "bad", "failed"), *FAST, "--timeout", "60", "--any")
    assert p.returncode == 1, p.stderr
    assert "cancelled (--any: another job ended first)" in p.stderr


# -- usage errors: exit 2 before any request ---------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{a}\n# fine\n\nftp://files.example.com/jobs/1\n",
         "line 4: not an http(s) URL: 'ftp://files.example.com/jobs/1' (ftp: is not HTTP"),
        ("{a}\napi.example.com/v1/jobs/2\n", "line 2: not an http(s) URL"),
        ('{a}\n{{"url": 5}}\n', 'line 2: no "url" string'),
        ('{{"url": "{a}", "tag": 1}}\n', "line 1: unknown field 'tag'"),
        ('{{"url": "{a}"\n', "line 1: not a JSON object"),
        ('{{"url": "{a}", "key": "x"}}\n{{"url": "{a}", "key": "x"}}\n',
         "line 2: the key 'x' is already taken"),
        ('{{"url": "{a}", "profile": "no-such-profile"}}\n', "line 1: "),
        ("# nothing but comments\n\n", "no URLs in it"),
        ("", "no URLs in it"),
    ],
)
def test_a_bad_file_is_a_usage_error_naming_the_line(
    server: JobServer, tmp_path: Path, content: str, words: str
) -> None:
    a = quick(server, "a")
    jobs = tmp_path / "jobs.txt"
    jobs.write_text(content.format(a=a))
    p = cli("wait", "--from", str(jobs), *FAST)
    assert p.returncode == 2, p.stderr
    [line] = p.stderr.splitlines()
    assert line.startswith("progress-client wait: error: --from ") and words in line, line
    assert not server.requests("/jobs/a")  # nothing was requested


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "give the job's status URL"),
        (["--from", "/nonexistent/jobs.txt"], "cannot read it (No such file or directory)"),
        (["http://127.0.0.1:9/a", "ftp://x/b"], "not an http(s) URL: 'ftp://x/b'"),
        (["http://127.0.0.1:9/a", "http://127.0.0.1:9/b", "--resume", "{}"],
         "--resume goes on with one wait"),
        (["http://127.0.0.1:9/a", "--rate-limit", "lots"], "not a rate limit: 'lots'"),
        (["http://127.0.0.1:9/a", "--rate-limit", "5/fortnight"], "not a rate limit"),
    ],
)
def test_usage_errors(args: list[str], words: str) -> None:
    p = cli("wait", *args)
    assert p.returncode == 2, p.stderr
    [line] = p.stderr.splitlines()
    assert words in line, line


def test_the_help_documents_many_jobs_and_the_exit_code() -> None:
    p = cli("wait", "--help")
    assert "--from FILE" in p.stdout and "--any" in p.stdout and "--rate-limit" in p.stdout
    assert "the highest of the jobs' codes" in p.stdout


# -- the live table, Ctrl-C --------------------------------------------------------------------


def test_on_a_terminal_a_live_table_redrawn_at_most_4_times_a_second(server: JobServer) -> None:
    import pty
    import select

    urls = [server.job(f"j{i}", [(0, "running"), (0.2 * i, {"status": "running",
                                                             "progress": 10 * i}),
                                 (2.5, "done")]).url for i in range(8)]
    import fcntl
    import struct
    import termios

    controller, terminal = pty.openpty()
    # A terminal of 10 rows: the table keeps to it (4 rows, "… and 4 more", the footer).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 10, 120, 0, 0))
    os.set_blocking(controller, False)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "wait", *urls,
         "--initial", "0.05", "--step", "0.05", "--max", "0.1", "--timeout", "60"],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
        # the terminal's own size (pytest sets LINES and COLUMNS, which rich would take)
        env={k: v for k, v in os.environ.items() if k not in ("LINES", "COLUMNS")},
    )
    os.close(terminal)
    seen = b""
    try:
        while proc.poll() is None and time.monotonic() - started < 60:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(controller, 65536)
                except OSError:
                    break
        proc.wait(timeout=30)
        elapsed = time.monotonic() - started
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
    assert proc.returncode == 0
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen).decode(errors="replace")
    # the footer, once per draw ("running 8 · succeeded 0 · failed 0 · 12 requests · ...")
    draws = len(re.findall(r"running \d+ · succeeded \d+", text))
    # Polls every 0.05-0.1 s change something on nearly every tick; the table is redrawn at
    # most every 0.25 s, whatever the number of jobs and answers.
    assert 2 <= draws <= 4 * elapsed + 2, (draws, elapsed)
    assert "status" in text and "progress" in text and "requests" in text  # the columns
    assert re.search(r"running \d+ · succeeded \d+ · failed 0 · \d+ requests", text)
    assert "30%" in text  # a row's progress
    assert "… and 4 more" in text and "/jobs/j7" not in text  # as many rows as fit
    assert "8 jobs: 8 succeeded;" in text  # the summary once the table is gone


def test_ctrl_c_ends_every_wait_at_once_with_resume_hints(server: JobServer) -> None:
    urls = [server.job(f"h{i}", [(0, "running")]).url for i in range(5)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "wait", *urls, "--initial", "60",
         "--max", "60", "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _until_polled(server, [f"/jobs/h{i}" for i in range(5)])
    # Each wait then sleeps 60 s: the process ends within ctrl_c's 30 s only if Ctrl-C wakes
    # every sleeping wait at once (typically in 0.1 s), and none polls again.
    out, err = ctrl_c(proc)
    assert [len(server.requests(f"/jobs/h{i}")) for i in range(5)] == [1] * 5
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    hints = [line for line in err.splitlines() if line.startswith("to go on where")]
    assert len(hints) == 5 and all(any(url in h for h in hints) for url in urls)
    assert out.startswith("5 jobs: 5 interrupted;")


def test_ctrl_c_with_json_gives_every_jobs_resume_token(server: JobServer) -> None:
    urls = [server.job(f"h{i}", [(0, "running")]).url for i in range(3)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "wait", *urls, "--initial", "5", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _until_polled(server, [f"/jobs/h{i}" for i in range(3)])
    out, err = ctrl_c(proc)
    assert proc.returncode == 130, err
    objs, summary = lines(out)
    assert summary["interrupted"] == 3 and summary["exit_code"] == 130
    for o in objs:
        assert o["outcome"] == "interrupted" and o["status"] == "running"
        token = json.loads(o["resume_token"])
        assert token["url"] == o["url"] and token["state"]["requests"] >= 1
    # The token goes on where it stopped: a single-URL wait resumes it.
    server.job("h0", [(0, "done")], etag=False)
    [h0] = [o for o in objs if o["url"] == urls[0]]
    again = cli("wait", h0["url"], "--resume", h0["resume_token"], "--json", "--timeout", "60")
    assert again.returncode == 0 and json.loads(again.stdout)["requests"] >= 2


def _until_polled(server: JobServer, paths: list[str]) -> None:
    deadline = time.monotonic() + 30
    while not all(server.requests(p) for p in paths) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # the first answers read: every wait is asleep (5 s to its next poll)


# -- rate budgets ------------------------------------------------------------------------------


def test_rate_limit_holds_every_origin_to_its_budget() -> None:
    with RateLimitedApi(limit=5000, left=5000, window=3600, polls=2) as api:
        urls = [api.url(f"r{i}") for i in range(12)]
        p = cli("wait", *urls, "--initial", "0.05", "--step", "0.05", "--max", "0.1",
                "--rate-limit", "8/s", "--timeout", "60", "--json")
        assert p.returncode == 0, p.stderr
        objs, summary = lines(p.stdout)
        times = sorted(t for t, _, _ in api.seen)
    assert len(times) == 24 == summary["requests"]
    # Never more than 8 arrivals in any second (one more for arrival jitter), as the server
    # counts them.
    worst = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    assert worst <= 9, worst
    assert summary["budget_delays"] > 0
    assert sum(o["budget_delays"] for o in objs) == summary["budget_delays"]


def test_rate_limit_auto_learns_githubs_stated_budget() -> None:
    # 30 waits of two polls (60 requests) against 40 left in the window: learned from the
    # x-ratelimit-* headers, the rest waits for the reset instead of drawing 429s.
    with RateLimitedApi(limit=100, left=40, window=3.0, polls=2) as api:
        urls = [api.url(f"g{i}") for i in range(30)]
        p = cli("wait", *urls, "--initial", "0.05", "--step", "0.05", "--max", "0.1",
                "--rate-limit", "auto", "--timeout", "60", "--json")
        assert p.returncode == 0, p.stderr
        _, summary = lines(p.stdout)
        assert api.served(429) == 0
    assert summary["succeeded"] == 30


def test_rate_limit_on_a_single_wait_and_on_run(
    server: JobServer, vendors: VendorServer
) -> None:
    p = cli("wait", quick(server, "one"), *FAST, "--rate-limit", "2/s", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["budget_delays"] >= 1 and out["budget_delay_ms"] > 0  # 3+ polls at 2/s
    job = vendors.script("runway", ["PENDING", "RUNNING", "SUCCEEDED"])
    run = cli("run", vendors.start_url("runway"), "-d", json.dumps(START_BODIES["runway"]),
              "--status-url", "/v1/tasks/{id}", *FAST, "--rate-limit", "2/s", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["result"]["id"] == job.id and out["budget_delays"] >= 1  # start + 3 at 2/s
    bad = cli("run", server.url("nowhere"), "--rate-limit", "1/fortnight")
    assert bad.returncode == 2 and "not a rate limit" in bad.stderr


# -- scale: 1,000 jobs, one process, no thread per job ----------------------------------------


def test_a_thousand_jobs_in_one_process_without_a_thread_per_job(
    server: JobServer, tmp_path: Path
) -> None:
    n = 1000
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("".join(
        server.job(f"k{i}", [(0, "running"), (0.4, "done")]).url + "\n" for i in range(n)))
    out, err = tmp_path / "out.jsonl", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "progress_client", "wait", "--from", str(jobs), *FAST,
             "--timeout", "300", "--json"],
            stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
        )
        threads = 0
        task_dir = Path(f"/proc/{proc.pid}/task")
        while proc.poll() is None:
            try:
                threads = max(threads, len(os.listdir(task_dir)))
            except OSError:
                break
            time.sleep(0.02)
        proc.wait(timeout=300)
    assert proc.returncode == 0, err.read_text()[-2000:]
    objs, summary = lines(out.read_text())
    assert len(objs) == n and summary["succeeded"] == n
    assert {o["key"] for o in objs} == {str(i + 1) for i in range(n)}
    assert summary["requests"] == sum(len(server.requests(f"/jobs/k{i}")) for i in range(n))
    assert all(o["requests"] >= 2 for o in objs)  # each job ended after polls, not at once
    # A thread per job would be 1,000; the process keeps to a handful (the main thread, the
    # resolver's and the interpreter's own helpers).
    assert 1 <= threads <= 20, threads


# -- run --from: many starts ---------------------------------------------------------------------


@pytest.fixture
def vendors() -> Iterator[VendorServer]:
    with VendorServer() as srv:
        yield srv


def test_run_from_starts_every_job_and_prints_each_result(
    vendors: VendorServer, tmp_path: Path
) -> None:
    vendors.script("azure", ["NotStarted", "Running", "Succeeded"], result={"pages": 3})
    vendors.script("azure", ["NotStarted", "Failed"])
    runway = vendors.script("runway", ["PENDING", "RUNNING", "SUCCEEDED"])
    starts = tmp_path / "starts.jsonl"
    starts.write_text("\n".join(json.dumps(line) for line in [
        {"url": vendors.start_url("azure"), "json": START_BODIES["azure"], "profile": "azure",
         "key": "doc-1"},
        {"url": vendors.start_url("azure"), "data": json.dumps(START_BODIES["azure"]),
         "profile": "azure", "key": "doc-2"},
        {"url": vendors.start_url("runway"), "json": START_BODIES["runway"],
         "status_url": "/v1/tasks/{id}", "key": "video"},
    ]) + "\n")
    p = cli("run", "--from", str(starts), "--initial", "0.05", "--step", "0.05", "--max", "0.2",
            "--timeout", "60", "--json")
    assert p.returncode == 1, p.stderr  # one of the two documents failed
    objs, summary = lines(p.stdout)
    by_key = {o["key"]: o for o in objs}
    assert {by_key["doc-1"]["outcome"], by_key["doc-2"]["outcome"]} == {"succeeded", "failed"}
    ok = by_key["doc-1"] if by_key["doc-1"]["outcome"] == "succeeded" else by_key["doc-2"]
    assert ok["result"] == {"pages": 3} and "/azure/operations/" in ok["status_url"]
    video = by_key["video"]
    assert video["outcome"] == "succeeded" and video["result"]["id"] == runway.id
    assert video["status_url"].endswith(f"/v1/tasks/{runway.id}")
    # Both bodies went out as JSON, as given
    assert [json.loads(b) for b in vendors.start_bodies["azure"]] == [START_BODIES["azure"]] * 2
    assert json.loads(vendors.start_bodies["runway"][0]) == START_BODIES["runway"]
    assert summary == {**summary, "jobs": 3, "succeeded": 2, "failed": 1, "exit_code": 1}

    # Without --json: each JSON result a line on stdout, the rest on stderr.
    vendors.script("runway", ["PENDING", "SUCCEEDED"])
    plain = tmp_path / "plain.txt"
    plain.write_text(vendors.start_url("runway") + "\n")
    p = cli("run", "--from", str(plain), "-d", json.dumps(START_BODIES["runway"]),
            "--status-url", "/v1/tasks/{id}", *FAST, "--timeout", "60")
    assert p.returncode == 0, p.stderr
    [line] = p.stdout.splitlines()
    assert json.loads(line)["key"] == "1" and json.loads(line)["result"]["status"] == "SUCCEEDED"
    assert "1 job: 1 succeeded;" in p.stderr


def test_run_from_starts_within_the_rate_budget(vendors: VendorServer, tmp_path: Path) -> None:
    jobs = [vendors.script("runway", ["PENDING", "RUNNING", "SUCCEEDED"]) for _ in range(6)]
    starts = tmp_path / "starts.jsonl"
    starts.write_text("".join(json.dumps({"url": vendors.start_url("runway"),
                                          "json": START_BODIES["runway"],
                                          "status_url": "/v1/tasks/{id}"}) + "\n"
                              for _ in jobs))
    began = time.monotonic()
    p = cli("run", "--from", str(starts), "--initial", "0.05", "--step", "0.05", "--max", "0.2",
            "--rate-limit", "6/s", "--timeout", "120", "--json")
    elapsed = time.monotonic() - began
    assert p.returncode == 0, p.stderr
    objs, summary = lines(p.stdout)
    sent = sum(job.requests for job in jobs)
    assert summary["requests"] == sent and len(vendors.start_bodies["runway"]) == 6
    # 6 starts and their polls, never more than 6 in a second: it cannot end sooner than this
    assert elapsed >= (sent - 6) / 6, (elapsed, sent)
    assert summary["budget_delays"] > 0 and all(o["outcome"] == "succeeded" for o in objs)


@pytest.mark.parametrize(
    ("line", "extra", "words"),
    [
        ({"url": "{start}", "data": "x", "json": {}}, [], "both give the start request's body"),
        ({"url": "{start}", "status_url": "/v1/tasks/"}, [], "an http(s) URL template with {id}"),
        ({"url": "{start}", "colour": "red"}, [], "unknown field 'colour'"),
        ({"url": "{start}"}, ["-o", "out.bin"], "--output keeps one job's result"),
        ({"url": "{start}"}, ["{start}"], "give the start URL or --from FILE, not both"),
    ],
)
def test_run_from_usage_errors_start_nothing(
    vendors: VendorServer, tmp_path: Path, line: dict[str, Any], extra: list[str], words: str
) -> None:
    start = vendors.start_url("runway")
    starts = tmp_path / "starts.jsonl"
    starts.write_text(json.dumps(line).replace("{start}", start) + "\n")
    p = cli("run", "--from", str(starts), *[a.replace("{start}", start) for a in extra])
    assert p.returncode == 2, p.stderr
    [said] = p.stderr.splitlines()
    assert said.startswith("progress-client run: error: ") and words in said, said
    assert not vendors.start_bodies.get("runway")  # nothing was started


def test_run_from_ctrl_c_says_how_to_go_on_with_each_started_job(
    vendors: VendorServer, tmp_path: Path
) -> None:
    jobs = [vendors.script("runway", ["RUNNING"]) for _ in range(2)]
    starts = tmp_path / "starts.jsonl"
    starts.write_text("".join(json.dumps({"url": vendors.start_url("runway"),
                                          "json": START_BODIES["runway"],
                                          "status_url": "/v1/tasks/{id}"}) + "\n"
                              for _ in jobs))
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "run", "--from", str(starts), "--initial", "5",
         "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while not all(job.polls for job in jobs) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    out, err = ctrl_c(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    hints = [line for line in err.splitlines() if line.startswith("to go on where")]
    assert sorted(shlex.split(h.split(": ", 1)[1])[2] for h in hints) == sorted(
        f"{vendors.base}/v1/tasks/{job.id}" for job in jobs)
    assert "2 jobs: 2 interrupted;" in err and out == ""  # no result: nothing on stdout


def test_failures_are_said_as_they_happen_per_job(server: JobServer) -> None:
    server.script("flaky", [Reply(503, {"detail": "busy"}), Reply(200, {"status": "done"})])
    p = cli("wait", server.url("flaky"), quick(server, "ok"), *FAST, "--timeout", "60")
    assert p.returncode == 0, p.stderr
    assert f"progress-client: {server.url('flaky')}: HTTP 503" in p.stderr
    assert f"progress-client: {server.url('ok')}:" not in p.stderr
