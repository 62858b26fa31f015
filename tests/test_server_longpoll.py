"""Long-polling on the status server: ``Prefer: wait=N`` (RFC 7240) parsed robustly, and
``GET /jobs/{id}`` held until the job changes or N seconds pass, over real HTTP on 127.0.0.1
(memory store; ``test_server_redis_cache.py`` holds them on Redis)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest

from progress_client.server import MemoryStore, RunningServer, create_app, serve_in_thread
from progress_client.server.prefer import MAX_WAIT, applied_wait, parse_prefer, prefer_wait

# -- the header ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        (["wait=5"], 5),
        (["WAIT = 5"], 5),
        (["wait=0"], 0),
        (["wait=0007"], 7),
        (['wait="12"'], 12),
        (["wait=10; foo=bar; baz"], 10),
        (["respond-async, wait=100"], MAX_WAIT),
        (["wait=99999999999999999999"], MAX_WAIT),
        (["return=minimal", "wait=3"], 3),  # two headers are one list
        (["wait=5, wait=9"], 5),  # the first instance counts
        (["handling=lenient;wait=3"], None),  # a parameter, not a preference
        (["wait=abc, wait=3"], None),  # the first wait is not delta-seconds
        (["wait=-1"], None),
        (["wait=1.5"], 1.5),  # not delta-seconds, accepted leniently
        (["wait=0.25"], 0.25),
        (["wait=1e3"], None),
        (["wait=1."], None),
        (["wait=.5"], None),
        (["wait=+4"], None),
        (["wait=\u0661"], None),  # a non-ASCII digit
        (["wait"], None),
        (["wait="], None),
        ([""], None),
        ([",,, ,"], None),
        (["respond-async"], None),
        ([], None),
        (["wait=5 trailing, wait=3"], 3),  # a malformed element is skipped
        (['x="a, b", wait=4'], 4),
        (['x="unterminated, wait=4'], 4),
        (["\x00\x7f garbage ;;; ==, wait=2"], 2),
        (["wait=2, " + "x" * 5000], None),  # over 4 KiB: ignored whole
    ],
)
def test_prefer_wait(headers: list[str], wait: float | None) -> None:
    assert prefer_wait(headers) == wait


def test_applied_wait_is_plain_decimal() -> None:
    assert [applied_wait(x) for x in (60, 0, 2.5, 0.000001, 10.0)] == [
        "wait=60", "wait=0", "wait=2.5", "wait=0.000001", "wait=10"]


def test_parse_prefer_keeps_names_and_values() -> None:
    assert parse_prefer(['Respond-Async, return=representation; x=1, wait="3"']) == {
        "respond-async": None, "return": "representation", "wait": "3"}
    assert parse_prefer(['a="q\\"uote"']) == {"a": 'q"uote'}


def test_prefer_parsing_is_linear_on_hostile_input() -> None:
    for hostile in (" ;" * 2000, '"' * 4000, 'a="\\' * 1300, "w;" * 2000 + "!",
                    "wait=1" + " ; a = b" * 500 + " x", "a=" + "x" * 4000 + '"',
                    "wait=1" * 2000):
        started = time.perf_counter()
        assert prefer_wait([hostile]) is None
        assert time.perf_counter() - started < 0.05


# -- over HTTP ----------------------------------------------------------------------------------


class Served:
    """The app on a free port, over a memory store living on the server's event loop."""

    def __init__(self, server: RunningServer, store: MemoryStore) -> None:
        self.server = server
        self.store = store
        self.url = server.url

    def update(self, job: str, status: str, **kw: object) -> None:
        async def write() -> None:
            await self.store.update(job, status=status, **kw)  # type: ignore[arg-type]

        self.server.call(write)


@pytest.fixture
def server() -> Iterator[Served]:
    store = MemoryStore()
    with serve_in_thread(create_app(store, retry_after=2)) as running:
        yield Served(running, store)


def test_without_an_etag_the_answer_is_immediate(server: Served) -> None:
    server.update("j", "running", progress=10)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        started = time.monotonic()
        r = http.get("/jobs/j", headers={"Prefer": "wait=20"})
        assert time.monotonic() - started < 1.0
        assert r.status_code == 200 and r.json()["status"] == "running"
        assert r.headers["preference-applied"] == "wait=20"
        assert r.headers["retry-after"] == "2"
        # Capped at 60; the header says what was applied.
        r = http.get("/jobs/j", headers={"Prefer": "respond-async, wait=3600"})
        assert r.headers["preference-applied"] == f"wait={MAX_WAIT}"
        # No preference (or a broken one): a plain GET, no Preference-Applied.
        for prefer in (None, "wait=soon", "return=minimal"):
            headers = {"If-None-Match": r.headers["etag"]}
            if prefer is not None:
                headers["Prefer"] = prefer
            started = time.monotonic()
            plain = http.get("/jobs/j", headers=headers)
            assert plain.status_code == 304 and time.monotonic() - started < 1.0
            assert "preference-applied" not in plain.headers
        # A fraction is applied as it is.
        quick = http.get("/jobs/j", headers={"Prefer": "wait=0.3",
                                             "If-None-Match": r.headers["etag"]})
        assert quick.status_code == 304 and quick.headers["preference-applied"] == "wait=0.3"
        # wait=0 is applied: nothing to hold.
        zero = http.get("/jobs/j", headers={"Prefer": "wait=0", "If-None-Match": r.headers["etag"]})
        assert zero.status_code == 304 and zero.headers["preference-applied"] == "wait=0"


def test_held_until_the_job_changes(server: Served) -> None:
    server.update("j", "running", progress=10)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        first = http.get("/jobs/j")
        tag = first.headers["etag"]

        def later() -> None:
            time.sleep(0.3)
            server.update("j", "rendering", progress=60)

        t = threading.Thread(target=later)
        started = time.monotonic()
        t.start()
        r = http.get("/jobs/j", headers={"Prefer": "wait=10", "If-None-Match": tag})
        held = time.monotonic() - started
        t.join()
        assert r.status_code == 200 and r.json()["status"] == "rendering"
        assert 0.25 <= held < 2.0, held
        assert r.headers["preference-applied"] == "wait=10"
        assert r.headers["etag"] != tag


def test_no_change_is_a_304_after_the_wait(server: Served) -> None:
    server.update("j", "running")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        tag = http.get("/jobs/j").headers["etag"]
        started = time.monotonic()
        r = http.get("/jobs/j", headers={"Prefer": "wait=1", "If-None-Match": tag})
        held = time.monotonic() - started
        assert r.status_code == 304 and r.content == b""
        assert 0.95 <= held < 2.0, held
        assert r.headers["etag"] == tag and r.headers["preference-applied"] == "wait=1"


def test_terminal_other_etag_and_unknown_answer_at_once(server: Served) -> None:
    server.update("done", "completed", progress=100)
    server.update("j", "running")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        done_tag = http.get("/jobs/done").headers["etag"]
        cases = [
            ("/jobs/done", done_tag, 304),  # over: nothing more will come
            ("/jobs/j", '"stale-etag"', 200),  # the client is behind: answer now
            ("/jobs/nope", '"x"', 404),
        ]
        for path, tag, code in cases:
            started = time.monotonic()
            r = http.get(path, headers={"Prefer": "wait=30", "If-None-Match": tag})
            assert r.status_code == code, path
            assert time.monotonic() - started < 1.0, path
            if code != 404:
                assert r.headers["preference-applied"] == "wait=30"
                assert "retry-after" not in r.headers or path == "/jobs/j"


def test_many_held_polls_are_released_by_one_update(server: Served) -> None:
    server.update("j", "running")

    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(base_url=server.url, timeout=15, limits=limits) as http:
            tag = (await http.get("/jobs/j")).headers["etag"]
            out: list[httpx.Response] = []

            async def hold() -> None:
                out.append(await http.get("/jobs/j", headers={
                    "Prefer": "wait=10", "If-None-Match": tag}))

            async with anyio.create_task_group() as tg:
                for _ in range(200):
                    tg.start_soon(hold)
                await anyio.sleep(0.5)
                await anyio.to_thread.run_sync(
                    lambda: server.update("j", "completed", progress=100))
            return out

    started = time.monotonic()
    answers = anyio.run(main)
    assert time.monotonic() - started < 5.0
    assert len(answers) == 200
    assert all(r.status_code == 200 and r.json()["status"] == "completed" for r in answers)
    assert server.store._subscribers == {}


def test_a_process_behind_the_clients_tag_waits_for_the_update(server: Served) -> None:
    """The ETag names the update ("<epoch>.<version>.<hash>"): a tag newer than what the
    server holds means the client saw it elsewhere; the answer waits for that update
    (at most CATCH_UP seconds) instead of going back to an older state."""
    server.update("j", "running", progress=1)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        tag = http.get("/jobs/j").headers["etag"]
        epoch, version, digest = tag.strip('"').split(".")
        ahead = f'"{epoch}.{int(version, 16) + 1:x}.{digest}"'
        timer = threading.Timer(0.3, lambda: server.update("j", "running", progress=2))
        started = time.monotonic()
        timer.start()
        r = http.get("/jobs/j", headers={"If-None-Match": ahead})
        waited = time.monotonic() - started
        timer.join()
        assert r.status_code == 200 and r.json()["progress"] == 2
        assert 0.25 <= waited < 0.9, waited
        # Nothing comes: after CATCH_UP the store's own state is the answer.
        far = f'"{epoch}.{int(version, 16) + 9:x}.{digest}"'
        started = time.monotonic()
        r = http.get("/jobs/j", headers={"If-None-Match": far})
        assert r.status_code == 200 and r.json()["progress"] == 2
        assert 0.95 <= time.monotonic() - started < 2.0
        # A tag that is not ours, or an older one, answers at once.
        for other in ('"abc"', tag, "*"):
            started = time.monotonic()
            r = http.get("/jobs/j", headers={"If-None-Match": other})
            assert time.monotonic() - started < 0.5
            assert r.status_code == (304 if other == "*" else 200)
