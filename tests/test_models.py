"""Reading status documents: fields, terminal sets, dotted paths, change keys, user models."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from progress_client import BadResponse, JobStatus, StatusSpec


def test_defaults_and_extras_kept() -> None:
    r = StatusSpec().read({"status": "running", "step": "render", "progress": 40, "eta": 12})
    assert r.status == JobStatus(status="running", step="render", progress=40.0, eta=12)
    assert r.status.model_extra == {"eta": 12}
    assert r.outcome is None


@pytest.mark.parametrize(
    "word", ["completed", "COMPLETE", "Succeeded", "success", "done", "finished"]
)
def test_success_words_case_insensitive(word: str) -> None:
    assert StatusSpec().read({"status": word}).outcome == "succeeded"


@pytest.mark.parametrize(
    "word", ["failed", "failure", "ERROR", "errored", "cancelled", "canceled", "expired"]
)
def test_failure_words(word: str) -> None:
    assert StatusSpec().read({"status": word}).outcome == "failed"


def test_custom_sets_and_case_sensitivity() -> None:
    spec = StatusSpec(success=frozenset({"ok"}), failure=frozenset({"bad"}), case_sensitive=True)
    assert spec.read({"status": "ok"}).outcome == "succeeded"
    assert spec.read({"status": "OK"}).outcome is None
    assert spec.read({"status": "completed"}).outcome is None
    with pytest.raises(ValueError):
        StatusSpec(success=frozenset({"x"}), failure=frozenset({"x"}))


def test_dotted_status_field_takes_siblings() -> None:
    spec = StatusSpec(status_field="data.state")
    r = spec.read({"data": {"state": "done", "progress": "100%", "error": None}, "id": 4})
    assert r.status.status == "done"
    assert r.status.progress == 100.0
    assert r.outcome == "succeeded"


def test_change_key_default_is_status_alone() -> None:
    spec = StatusSpec()
    a = spec.read({"status": "running", "progress": 10})
    b = spec.read({"status": "RUNNING", "progress": 20})
    assert a.key == b.key
    spec2 = StatusSpec(change_on=("status", "step"))
    c = spec2.read({"status": "running", "step": 1})
    d = spec2.read({"status": "running", "step": 2})
    assert c.key != d.key


def test_user_model() -> None:
    class Mine(BaseModel):
        status: str
        frames: int

    r = StatusSpec(model=Mine).read({"status": "running", "frames": 3})
    assert isinstance(r.document, Mine) and r.document.frames == 3
    with pytest.raises(BadResponse, match="does not fit Mine"):
        StatusSpec(model=Mine).read({"status": "running", "frames": "many"})


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ([1, 2], "an array"),
        ("running", "a string"),
        (None, "null"),
        ({}, "no 'status' field"),
        ({"status": None}, "no 'status' field"),
        ({"status": {"x": 1}}, "not a string"),
        ({"status": True}, "not a string"),
    ],
)
def test_not_a_status(doc: object, match: str) -> None:
    with pytest.raises(BadResponse, match=match):
        StatusSpec().read(doc)


def test_error_field_objects_become_text_and_repr_is_sanitized() -> None:
    r = StatusSpec().read({"status": "failed", "error": {"code": 7, "key": "sk_live_abcdefgh1234"}})
    assert isinstance(r.status.error, str)
    assert "sk_live_abcdefgh1234" not in repr(r.status)


def test_invalid_paths() -> None:
    with pytest.raises(ValueError):
        StatusSpec(status_field="data..state")
