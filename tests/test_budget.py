"""The rate budget's decisions on a virtual clock: pure, no I/O, no sleeping."""

from __future__ import annotations

import math
import random

import pytest

from progress_client.core.budget import Budget, Budgets, Limit, parse_limit


@pytest.mark.parametrize(("text", "requests", "window"), [
    ("60/m", 60, 60.0), ("5000/h", 5000, 3600.0), ("10/s", 10, 1.0),
    ("500000/month", 500000, 30 * 86400.0), ("100/30s", 100, 30.0), (" 7 / 2 h ", 7, 7200.0),
    ("1/day", 1, 86400.0),
])
def test_parse_limit(text: str, requests: int, window: float) -> None:
    assert parse_limit(text) == Limit(requests, window)


@pytest.mark.parametrize("text", ["", "60", "60/", "0/m", "-1/m", "60/fortnight", "1.5/m",
                                  "60/m/s", "x/m"])
def test_parse_limit_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        parse_limit(text)


def drive(budget: Budget, waits: int, until: float, step: float = 0.01) -> list[float]:
    """Send times when ``waits`` waits each want to send as often as the budget lets them."""
    tickets = [budget.ticket(None) for _ in range(waits)]
    sent: list[float] = []
    now = 0.0
    while now < until:
        for i, t in enumerate(tickets):
            if budget.grant(t, now):
                sent.append(now)
                budget.observe(now, 1e9 + now, 200, {})
                tickets[i] = budget.ticket(None)
        now += step
    return sent


def most_in_any_window(sent: list[float], window: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(sent):
        while sent[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_a_configured_limit_holds_in_every_sliding_window() -> None:
    sent = drive(Budget(Limit(20, 10.0)), waits=50, until=60.0)
    assert most_in_any_window(sent, 10.0) <= 20
    # Spread, not spent at once: the bucket holds a tenth of the limit, the rest is paced.
    assert sum(1 for t in sent if t < 1.0) <= 3
    assert len(sent) >= 100  # and the budget is used: about 20 per 10 s over 60 s


def test_the_queue_serves_the_nearest_deadline_first_then_arrival() -> None:
    budget = Budget(Limit(1, 1.0))
    assert budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 0.0, 200, {})
    late = budget.ticket(None)
    soon = budget.ticket(5.0)
    sooner = budget.ticket(3.0)
    order = []
    now = 0.0
    while len(order) < 3:
        now += 0.05
        for name, t in (("late", late), ("soon", soon), ("sooner", sooner)):
            if budget.grant(t, now):
                order.append(name)
    assert order == ["sooner", "soon", "late"]


def test_the_first_request_goes_alone_until_an_answer_says_the_budget() -> None:
    budget = Budget()  # "auto": learn only
    a, b = budget.ticket(None), budget.ticket(None)
    assert budget.grant(a, 0.0)
    assert not budget.grant(b, 0.0)
    assert budget.ready_at(0.0) == math.inf
    budget.observe(0.2, 1e9, 200, {})  # no rate-limit fields: nothing to keep under
    assert budget.grant(b, 0.2)
    # From then on nothing holds a request back.
    c, d = budget.ticket(None), budget.ticket(None)
    assert budget.grant(c, 0.2) and budget.grant(d, 0.2)


def test_an_error_also_ends_the_first_requests_solitude() -> None:
    budget = Budget()
    a, b = budget.ticket(None), budget.ticket(None)
    assert budget.grant(a, 0.0)
    budget.observe(1.0, 1e9, None, None)
    assert budget.grant(b, 1.0)


def test_retry_after_on_429_pauses_every_wait_on_the_origin() -> None:
    budget = Budget()
    assert budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 200, {})
    assert budget.grant(budget.ticket(None), 1.0)
    budget.observe(1.0, 1e9, 429, {"retry-after": "5"})
    t = budget.ticket(None)
    assert not budget.grant(t, 5.9)
    assert budget.ready_at(2.0) == pytest.approx(6.0)
    assert budget.grant(t, 6.0)


def test_503_with_retry_after_pauses_too_and_a_200s_does_not() -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 503, {"retry-after": "2"})
    assert budget.ready_at(0.0) == pytest.approx(2.0)
    other = Budget()
    other.grant(other.ticket(None), 0.0)
    other.observe(0.0, 1e9, 200, {"retry-after": "9"})  # a poll hint, the wait's own business
    assert other.ready_at(0.0) == 0.0


def test_github_fields_none_left_means_nothing_before_the_reset() -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    wall = 1_700_000_000.0
    budget.observe(0.0, wall, 200, {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                                     "x-ratelimit-reset": str(int(wall) + 30)})
    t = budget.ticket(None)
    assert not budget.grant(t, 29.0)
    assert budget.ready_at(1.0) == pytest.approx(30.0)
    assert budget.grant(t, 30.0)


def test_what_is_left_is_spread_when_fewer_are_left_than_waits_want() -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 200, {"x-ratelimit-remaining": "10", "x-ratelimit-reset": "100"})
    sent = drive(budget, waits=30, until=99.0, step=0.05)
    assert len(sent) <= 10  # never more than the server said was left before the reset
    assert sent[-1] - sent[0] > 50  # spread over the window, not spent at once


def test_plenty_left_goes_at_once() -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 200, {"x-ratelimit-remaining": "4000", "x-ratelimit-reset": "3600"})
    tickets = [budget.ticket(None) for _ in range(50)]
    assert all(budget.grant(t, 0.0) for t in tickets)


def test_requests_in_flight_are_not_spent_twice() -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 200, {"x-ratelimit-remaining": "5", "x-ratelimit-reset": "60"})
    tickets = [budget.ticket(None) for _ in range(5)]
    assert all(budget.grant(t, 0.0) for t in tickets)  # 5 left, 5 want: all go
    # The first answer counts its own request, not the four still in flight: none is left.
    budget.observe(0.1, 1e9, 200, {"x-ratelimit-remaining": "4", "x-ratelimit-reset": "60"})
    assert budget.remaining == 0
    assert not budget.grant(budget.ticket(None), 0.2)


@pytest.mark.parametrize("headers", [
    {"ratelimit": '"default";r=0;t=7', "ratelimit-policy": '"default";q=100;w=60'},
    {"ratelimit": "limit=100, remaining=0, reset=7"},
    {"ratelimit-limit": "100", "ratelimit-remaining": "0", "ratelimit-reset": "7"},
])
def test_the_ietf_fields_in_their_forms(headers: dict[str, str]) -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 200, headers)
    assert budget.ready_at(0.0) == pytest.approx(7.0)


def test_a_stated_policy_is_kept_as_a_limit() -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 200, {"ratelimit-policy": '"default";q=10;w=10',
                                   "ratelimit": '"default";r=9;t=10'})
    assert budget.learned == Limit(10, 10.0)
    sent = drive(budget, waits=20, until=40.0)
    assert most_in_any_window([0.0, *sent], 10.0) <= 10


@pytest.mark.parametrize("value", ["", "-1", "1e400", "x" * 2000, "٣", "NaN"])
def test_hostile_fields_are_ignored(value: str) -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 429, {
        "x-ratelimit-remaining": value, "x-ratelimit-reset": value, "ratelimit": value,
        "ratelimit-policy": value, "retry-after": value,
    })
    assert budget.ready_at(0.0) == 0.0


def test_withdrawn_tickets_free_the_head() -> None:
    budget = Budget(Limit(1, 10.0))
    assert budget.grant(budget.ticket(None), 0.0)
    first, second = budget.ticket(1.0), budget.ticket(None)
    budget.withdraw(first)  # its deadline came
    assert budget.head() is second and budget.queued() == 1


def test_budgets_per_origin_and_default() -> None:
    budgets = Budgets({"https://api.github.com": "5000/h", "*": "auto"})
    gh = budgets.for_url("https://API.github.com:443/repos/x/actions/runs/1")
    assert gh is not None and gh.configured == Limit(5000, 3600.0)
    assert budgets.for_url("https://api.github.com/other") is gh
    other = budgets.for_url("http://127.0.0.1:8000/jobs/1")
    assert other is not None and other.configured is None
    assert Budgets({"https://a.example": "1/s"}).for_url("https://b.example/x") is None
    assert Budgets("10/s").for_url("https://b.example/x") is not None
    with pytest.raises(ValueError):
        Budgets("often")
    with pytest.raises(TypeError):
        Budgets(5)


def test_random_crowds_never_exceed_the_limit() -> None:
    rng = random.Random(7)
    for _ in range(20):
        limit = Limit(rng.randint(1, 30), rng.choice([1.0, 5.0, 10.0]))
        budget = Budget(limit)
        sent = drive(budget, waits=rng.randint(1, 40), until=limit.window * 4, step=0.01)
        assert most_in_any_window(sent, limit.window) <= limit.requests


def test_answers_out_of_order_never_raise_what_is_left_in_one_window() -> None:
    budget = Budget()
    budget.grant(budget.ticket(None), 0.0)
    budget.observe(0.0, 1e9, 200, {"x-ratelimit-remaining": "10", "x-ratelimit-reset": "60"})
    tickets = [budget.ticket(None) for _ in range(3)]
    assert all(budget.grant(t, 0.1) for t in tickets)
    # The server counted them in one order; their answers come back in another.
    budget.observe(0.2, 1e9, 200, {"x-ratelimit-remaining": "7", "x-ratelimit-reset": "60"})
    budget.observe(0.3, 1e9, 200, {"x-ratelimit-remaining": "9", "x-ratelimit-reset": "60"})
    # 7 left less the two still in flight when it came (the server may not have counted
    # them): 5; the later answer's 9 less the one then in flight would say 8: the least holds.
    assert budget.remaining == 5
    # A new window (another reset) says afresh what is left.
    budget.observe(61.0, 1e9, 200, {"x-ratelimit-remaining": "99", "x-ratelimit-reset": "60"})
    assert budget.remaining == 99
