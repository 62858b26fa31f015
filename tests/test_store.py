"""MemoryStore and the metadata gate: TTLs on a fake clock, versions, sanitization at write
time, checkpoints, the PII guard (nothing written on refusal), subscriptions. No sleeping."""

from __future__ import annotations

import json

import pytest

from progress_client.server import (
    CHECKPOINT_TTL,
    METADATA_TTL,
    PROGRESS_TTL,
    InvalidMetadata,
    MemoryStore,
    PIIRefused,
    check_metadata,
    find_pii,
)

pytestmark = pytest.mark.anyio

SECRET_ERROR = (
    "upload failed: POST https://admin:hunter2pass@10.1.2.3:9000/up?token=abc123secret with "
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl"
    " key sk_live_4eC39HqLyjWDarjtT1 in /home/alice/app/worker.py"
)
SECRETS = ("hunter2pass", "abc123secret", "sk_live_4eC39HqLyjWDarjtT1", "eyJhbGciOiJIUzI1NiJ9",
           "/home/alice", "10.1.2.3", "alice")


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(prefix="t", clock=clock, wall=lambda: 1_767_225_600.0 + clock.t)


async def test_update_stores_record_and_bumps_version(store: MemoryStore) -> None:
    first = await store.update("job-1", status="queued", progress=0)
    second = await store.update("job-1", status="running", step="render", progress=42.5)
    assert (first.version, second.version) == (1, 2)
    got = await store.get("job-1")
    assert got is not None
    assert got.public() == {
        "status": "running",
        "step": "render",
        "progress": 42.5,
        "error": None,
        "updated_at": "2026-01-01T00:16:40.000Z",
    }
    assert got.version == 2


async def test_error_is_sanitized_before_it_is_stored(store: MemoryStore) -> None:
    await store.update("job-1", status="failed", error=SECRET_ERROR)
    stored = json.dumps(store._data)  # every byte the store holds
    for secret in SECRETS:
        assert secret not in stored
    got = await store.get("job-1")
    assert got is not None and got.error is not None
    assert "[TOKEN]" in got.error and "[PATH]" in got.error


async def test_ttls_progress_checkpoint_metadata(store: MemoryStore, clock: FakeClock) -> None:
    await store.update("job-1", status="running", step="images", completed_step="script")
    await store.set_metadata("job-1", model="sdxl", duration=300, format="mp4",
                             resolution="1920x1080")
    ttls = store.ttls()
    assert sorted(ttls.values()) == [PROGRESS_TTL, CHECKPOINT_TTL, METADATA_TTL]
    assert all(0 < t <= 24 * 3600 for t in ttls.values())

    clock.t += PROGRESS_TTL
    assert await store.get("job-1") is None
    checkpoint = await store.get_checkpoint("job-1")
    assert checkpoint is not None and checkpoint.completed == {"script"}

    clock.t += CHECKPOINT_TTL - PROGRESS_TTL
    assert await store.get_checkpoint("job-1") is None
    meta = await store.get_metadata("job-1")
    assert meta is not None and meta.resolution == "1920x1080"

    clock.t += METADATA_TTL
    assert await store.get_metadata("job-1") is None
    assert store.ttls() == {}


async def test_update_refreshes_progress_ttl_and_version_restarts_after_expiry(
    store: MemoryStore, clock: FakeClock
) -> None:
    await store.update("job-1", status="running")
    clock.t += PROGRESS_TTL - 1
    await store.update("job-1", status="running", progress=50)
    clock.t += PROGRESS_TTL - 1
    got = await store.get("job-1")
    assert got is not None and got.version == 2
    clock.t += 1
    assert await store.get("job-1") is None
    again = await store.update("job-1", status="queued")
    assert again.version == 1


async def test_checkpoint_accumulates_completed_steps(store: MemoryStore) -> None:
    await store.update("job-1", status="images", completed_step="script")
    await store.update("job-1", status="images", progress=30)
    await store.update("job-1", status="voice-over", completed_step="images")
    checkpoint = await store.get_checkpoint("job-1")
    assert checkpoint is not None
    assert checkpoint.completed == {"script", "images"}
    assert checkpoint.last_step == "images"
    assert await store.get_checkpoint("job-2") is None


async def test_owner_is_kept_but_never_public(store: MemoryStore) -> None:
    owner = "7d1f0c4e-2b7a-4f3e-9a61-0f5b8c2d9e11"
    await store.update("job-1", status="running", owner=owner)
    await store.update("job-1", status="rendering")  # a later update keeps the owner
    got = await store.get("job-1")
    assert got is not None and got.owner == owner and got.version == 2
    assert owner not in json.dumps(got.public())
    with pytest.raises(ValueError, match="opaque id"):
        await store.update("job-1", status="running", owner="alice@example.com")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"status": ""}, "status"),
        ({"status": "x" * 65}, "status"),
        ({"status": "running", "progress": 101}, "progress"),
        ({"status": "running", "progress": float("nan")}, "progress"),
        ({"status": "running", "progress": True}, "progress"),
        ({"status": "running", "step": ""}, "step"),
        ({"status": "running", "completed_step": "x" * 129}, "completed_step"),
    ],
)
async def test_update_validates_its_input(
    store: MemoryStore, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        await store.update("job-1", **kwargs)  # type: ignore[arg-type]
    assert store.ttls() == {}


@pytest.mark.parametrize("job_id", ["", "a b", "../x", "*", "j" * 129, "-lead"])
async def test_job_ids_are_checked(store: MemoryStore, job_id: str) -> None:
    with pytest.raises(ValueError, match="job_id"):
        await store.update(job_id, status="running")
    assert await store.get(job_id) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"email": "x"}, "field name"),
        ({"user_email": "x"}, "field name"),
        ({"userEmail": "x"}, "field name"),
        ({"name": "x"}, "field name"),
        ({"first_name": "x"}, "field name"),
        ({"phone": "x"}, "field name"),
        ({"address": "x"}, "field name"),
        ({"password": "x"}, "field name"),
        ({"api_token": "x"}, "field name"),
        ({"card_number": "x"}, "field name"),
        ({"model": "contact bob.smith@example.org please"}, "e-mail"),
        ({"voice": "+1 (555) 010-4477"}, "phone"),
        ({"quality": "555-010-4477"}, "phone"),
        ({"model": "4111 1111 1111 1111"}, "card"),
        ({"model": "4111-1111-1111-1111"}, "card"),
    ],
)
async def test_pii_is_refused_and_nothing_is_written(
    store: MemoryStore, fields: dict[str, str], reason: str
) -> None:
    with pytest.raises(PIIRefused, match=reason) as info:
        await store.set_metadata("job-1", format="mp4", **fields)
    for value in fields.values():
        if value != "x":
            assert value not in str(info.value)
    assert store.ttls() == {}
    assert await store.get_metadata("job-1") is None


def test_technical_metadata_is_not_mistaken_for_pii() -> None:
    fields = {"model": "sdxl-1.0", "duration": 300, "format": "mp4", "resolution": "1920x1080",
              "fps": 30, "aspect_ratio": "16:9", "language": "en-US", "scenes": 12,
              "image_model": "flux.1-dev", "voice": "alloy", "quality": "high"}
    assert find_pii(fields) is None
    assert check_metadata(fields).model_dump(exclude_none=True) == fields


async def test_unknown_or_malformed_metadata_is_refused_without_echo(store: MemoryStore) -> None:
    with pytest.raises(InvalidMetadata, match="favourite_colour") as info:
        await store.set_metadata("job-1", favourite_colour="teal-secret-value")
    assert "teal-secret-value" not in str(info.value)
    with pytest.raises(InvalidMetadata, match="resolution"):
        await store.set_metadata("job-1", resolution="huge")
    with pytest.raises(InvalidMetadata, match="duration"):
        await store.set_metadata("job-1", duration=-1)
    assert store.ttls() == {}


async def test_set_metadata_replaces_earlier_settings(store: MemoryStore) -> None:
    await store.set_metadata("job-1", model="a", format="mp4")
    await store.set_metadata("job-1", model="b")
    meta = await store.get_metadata("job-1")
    assert meta is not None and (meta.model, meta.format) == ("b", None)


async def test_subscribers_get_every_update_without_owner(store: MemoryStore) -> None:
    sub = store.subscribe("job-1")
    other = store.subscribe("job-2")
    await store.update("job-1", status="running", owner="owner-1")
    await store.update("job-1", status="completed")
    first = await sub.receive(1.0)
    second = await sub.receive(1.0)
    assert first is not None and second is not None
    assert (first.status, first.version, first.owner) == ("running", 1, None)
    assert (second.status, second.version, second.terminal) == ("completed", 2, True)
    assert await sub.receive(0) is None
    assert await other.receive(0) is None
    sub.close()
    other.close()
    assert store._subscribers == {}


async def test_a_slow_subscriber_keeps_the_newest_updates(store: MemoryStore) -> None:
    sub = store.subscribe("job-1")
    for i in range(100):
        await store.update("job-1", status="running", progress=i)
    received = []
    while (record := await sub.receive(0)) is not None:
        received.append(record.version)
    assert received == list(range(37, 101))
    sub.close()


def test_prefix_is_checked_and_used_in_key_names() -> None:
    with pytest.raises(ValueError, match="prefix"):
        MemoryStore(prefix="bad prefix*")
    store = MemoryStore(prefix="app.v1")
    assert store.progress_key("j") == "app.v1:{j}:progress"
    assert store.checkpoint_key("j") == "app.v1:{j}:checkpoint"
    assert store.metadata_key("j") == "app.v1:{j}:metadata"
