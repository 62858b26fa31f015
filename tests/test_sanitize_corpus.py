"""The sanitizer corpus: a labelled table of secrets that ``sanitize()`` must hide (recall must
be 100%) and of harmless look-alikes it must leave alone (false positives are reported, and
must be zero too). The figures are printed on the terminal and recorded in the JUnit report.

Every secret is fake and built here from parts (a prefix plus characters derived from a hash),
so no secret scanner mistakes this file for a leak and no real account is named.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from progress_client import sanitize
from progress_client.core.sanitize import _apply_rules, _plain, redact_secrets

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ALNUM = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_B64 = _ALNUM + "+/"
_HEX = "0123456789abcdef"


def fake(seed: str, n: int, alphabet: str = _ALNUM) -> str:
    digest = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(8))
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


def _b64url(doc: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def _pem(kind: str, seed: str) -> str:
    body = "\n".join(fake(f"{seed}{i}", 64, _B64) for i in range(3))
    label = f"{kind} PRIVATE KEY" if kind else "PRIVATE KEY"
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


@dataclass(frozen=True)
class Secret:
    kind: str
    text: str  # a realistic line that contains the secret
    secret: str  # the part that must not survive


def S(kind: str, template: str, secret: str) -> Secret:
    return Secret(kind, template.format(s=secret), secret)


JWT = ".".join(
    [_b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": "42", "exp": 1767225600}),
     fake("jwtsig", 43, _ALNUM + "-_")]
)
JWT_RS = ".".join(
    [_b64url({"alg": "RS256", "kid": "k1"}), _b64url({"iss": "auth", "aud": "jobs"}),
     fake("rssig", 86, _ALNUM + "-_")]
)

SECRETS: list[Secret] = [
    # Cloud keys.
    S("aws-access-key", "upload failed for key {s} (403)", "AKIA" + fake("aws1", 16, _UPPER)),
    S("aws-access-key", "assumed role with ASIA key {s}", "ASIA" + fake("aws2", 16, _UPPER)),
    S("aws-secret", "aws_secret_access_key = {s}", fake("awss", 40, _B64)),
    S("aws-secret", "env AWS_SECRET_ACCESS_KEY={s} missing region", fake("awss2", 40, _B64)),
    S("gcp-api-key", "maps call with key={s} denied", "AIza" + fake("gcp1", 35, _ALNUM + "-_")),
    S("gcp-api-key", "GOOGLE_API_KEY: {s}", "AIza" + fake("gcp2", 35, _ALNUM + "-_")),
    S("azure-key", "DefaultEndpointsProtocol=https;AccountName=media;AccountKey={s};"
      "EndpointSuffix=core.windows.net", fake("az1", 86, _B64) + "=="),
    S("azure-sas", "GET https://media.blob.core.windows.net/out/v.mp4?sv=2022-11-02&sp=r&sig={s}",
      fake("az2", 43, _ALNUM) + "%3D"),
    # Payment keys.
    S("payment-key", "charge failed: {s} is not allowed", "sk_live_" + fake("st1", 24)),
    S("payment-key", "using {s} in test mode", "sk_test_" + fake("st2", 24)),
    S("payment-key", "restricted key {s}", "rk_live_" + fake("st3", 24)),
    S("payment-key", "webhook secret {s} rejected", "whsec_" + fake("st4", 32)),
    # VCS tokens.
    S("vcs-token", "git push with {s} failed", "ghp_" + fake("gh1", 36)),
    S("vcs-token", "oauth {s}", "gho_" + fake("gh2", 36)),
    S("vcs-token", "GITHUB_TOKEN={s}", "github_pat_" + fake("gh3", 22) + "_" + fake("gh4", 59)),
    S("vcs-token", "clone: {s}", "glpat-" + fake("gl1", 20, _ALNUM + "-_")),
    # Chat tokens.
    S("chat-token", "slack post failed ({s})", "xoxb-" + fake("sl1", 12, "0123456789") + "-"
      + fake("sl2", 13, "0123456789") + "-" + fake("sl3", 24)),
    S("chat-token", "user token {s}", "xoxp-" + fake("sl4", 11, "0123456789") + "-"
      + fake("sl5", 32)),
    S("chat-webhook", "notify {s} returned 404", "https://hooks.slack.com/services/T"
      + fake("sw1", 8, _UPPER) + "/B" + fake("sw2", 8, _UPPER) + "/" + fake("sw3", 24)),
    S("chat-token", "telegram sendMessage with {s}: 401",
      fake("tg1", 10, "0123456789") + ":AA" + fake("tg2", 33, _ALNUM + "-_")),
    S("chat-token", "discord login {s}",
      "M" + fake("dc1", 25, _ALNUM) + "." + fake("dc2", 6) + "." + fake("dc3", 38, _ALNUM + "-_")),
    # JWTs.
    S("jwt", "session {s} expired", JWT),
    S("jwt", '{{"id_token": "{s}"}}', JWT_RS),
    # Authorization headers.
    S("bearer", "Authorization: Bearer {s}", fake("opaque", 40, _ALNUM + "-._~")),
    S("bearer", "upstream said: bearer {s} invalid", fake("opaque2", 32)),
    S("basic", "Authorization: Basic {s}", base64.b64encode(b"render:" + fake("bp", 14).encode())
      .decode()),
    S("basic", "proxy answered 407 to Basic {s}", base64.b64encode(b"ops:hunter2").decode()),
    # Passwords and tokens in URLs and query strings.
    S("url-password", "connect postgres://app:{s}@db.internal:5432/prod failed",
      "pw" + fake("pg", 14)),
    S("url-password", "fetch https://deploy:{s}@git.example.com/repo.git", fake("gitpw", 20)),
    S("url-password", "redis://:{s}@cache:6379/0 refused", fake("redispw", 24)),
    S("query-token", "GET https://api.example.com/jobs/42?access_token={s}", fake("qt1", 32)),
    S("query-token", "callback /hook?id=7&api_key={s}&x=1", fake("qt2", 28)),
    S("query-token", "retry https://cdn.example.com/v.mp4?token={s}", fake("qt3", 24)),
    S("password-field", "login failed: password={s}", "Tr0ub4dor&" + fake("pwf", 6)),
    S("password-field", '{{"user": "ops", "password": "{s}"}}', fake("pwj", 18)),
    S("password-field", "DB_PASSWORD={s} rejected", fake("dbpw", 16)),
    S("password-field", "client_secret: {s}", fake("cs", 32)),
    # Other vendor keys.
    S("ai-key", "openai error for {s}", "sk-proj-" + fake("oa", 40, _ALNUM + "-_")),
    S("registry-token", "npm publish with {s}", "npm_" + fake("npm", 36)),
    S("registry-token", "upload with {s}", "pypi-" + fake("pypi", 60, _ALNUM + "-_")),
    S("ml-token", "hub download with {s}", "hf_" + fake("hf", 34)),
    # Private keys.
    S("private-key", "key file:\n{s}\nend", _pem("RSA", "rsa")),
    S("private-key", "{s}", _pem("OPENSSH", "ssh")),
    S("private-key", '{{"private_key": "{s}"}}', _pem("", "p8").replace("\n", "\\n")),
    S("private-key", "ec key {s}", _pem("EC", "ec")),
    # Home directories and Windows paths.
    S("home-path", "cannot open {s}: permission denied", "/home/alice/.aws/credentials"),
    S("home-path", "loaded {s}", "/Users/bob.smith/Library/Keys/signing.p12"),
    S("home-path", "read ~/{s} failed", ".ssh/id_ed25519"),
    S("home-path", "File \"{s}\", line 12", "/root/worker/render.py"),
    S("windows-path", "FileNotFoundError: {s}", "C:\\Users\\alice\\AppData\\Roaming\\app\\t.json"),
    S("windows-path", "share {s} unreachable", "\\\\fileserver\\renders\\alice\\out.mp4"),
    # Addresses.
    S("ipv4", "connect to {s} timed out", "10.20.30.40"),
    S("ipv4", "worker {s}:8080 down", "192.168.1.20"),
    S("ipv4", "client ip={s}", "203.0.113.77"),
    S("ipv6", "listening on [{s}]:443", "2001:db8:85a3::8a2e:370:7334"),
    S("ipv6", "peer {s} reset", "fe80::1ff:fe23:4567:890a%eth0"),
    S("ipv6", "from {s}", "2001:0db8:0000:0000:0000:ff00:0042:8329"),
    # E-mail addresses.
    S("email", "notify {s} when done", "alice@example.com"),
    S("email", "owner: {s}", "first.last+renders@mail.example.co.uk"),
]

LOOKALIKES: list[tuple[str, str]] = [
    ("version", "upgraded to 1.2.3"),
    ("version", "server 10.0.1 is running"),
    ("version", "requires Python 3.11.7 or later"),
    ("version", "release v2.4.0-rc.1"),
    ("uuid", "job 3f2b8c1e-9a4d-4e1b-8c2f-1a2b3c4d5e6f queued"),
    ("uuid", "user 550e8400-e29b-41d4-a716-446655440000"),
    ("timestamp", "started 2026-01-05T10:22:33Z"),
    ("timestamp", "at 2026-01-05T10:22:33.123+02:00 the step ended"),
    ("timestamp", "at 10:22:33 the queue was empty"),
    ("git-hash", "fixed in commit 9fceb02d0ae598e95dc970b74767f19372d61af8"),
    ("git-hash", "built from a1b2c3d"),
    ("sha256", "checksum e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ok"),
    ("file-name", "wrote report.pdf"),
    ("file-name", "render_final.mp4 is 14 MB"),
    ("file-name", "frame_0001.png missing"),
    ("relative-path", "see src/progress_client/core/engine.py"),
    ("http-status", "HTTP/1.1 503 Service Unavailable"),
    ("duration", "completed after 41 requests in 5m02s"),
    ("duration", "took 1h01m40s, 86% fewer requests"),
    ("url", "https://api.example.com/jobs/42"),
    ("url", "https://api.example.com/jobs/42?page=2&sort=asc"),
    ("url", "GET https://api.example.com/jobs/42/events failed"),
    ("progress", "step 3/10, 75% done"),
    ("ratio", "aspect 16:9 at 1920x1080"),
    ("mac-like", "device de:ad:be:ef:00:01"),
    ("prose", "missing Bearer token"),
    ("prose", "Basic authentication is disabled"),
    ("prose", "token refresh failed, retrying"),
    ("prose", "the password must be at least 12 characters"),
    ("prose", "private key not configured"),
    ("code", "TypeError in std::vector<int>::at"),
    ("status", "status=running step=encode"),
    ("model", "model gpt-4o, 1080p, 30 fps"),
    ("number", "retry 3 of 10 after 429"),
]


def _kinds() -> set[str]:
    return {s.kind for s in SECRETS}


def test_corpus_is_big_enough() -> None:
    assert len(SECRETS) >= 40
    assert len(_kinds()) >= 15
    assert len(LOOKALIKES) >= 20


def test_recall_and_false_positives(
    capsys: pytest.CaptureFixture[str], record_property: object
) -> None:
    missed = [s for s in SECRETS if s.secret in sanitize(s.text)]
    false_positives = [(k, t, sanitize(t)) for k, t in LOOKALIKES if sanitize(t) != t]
    recall = 100.0 * (len(SECRETS) - len(missed)) / len(SECRETS)
    summary = (
        f"sanitizer corpus: recall {recall:.1f}% ({len(SECRETS) - len(missed)}/{len(SECRETS)} "
        f"secrets, {len(_kinds())} kinds), false positives {len(false_positives)}/"
        f"{len(LOOKALIKES)} look-alikes"
    )
    assert callable(record_property)
    record_property("sanitizer_recall_percent", recall)
    record_property("sanitizer_false_positives", len(false_positives))
    with capsys.disabled():
        print(f"\n{summary}")
    detail = "; ".join(f"{s.kind}: {s.text[:60]!r}" for s in missed)
    fp = "; ".join(f"{k}: {t!r} -> {o!r}" for k, t, o in false_positives)
    assert not missed, f"{summary}. Missed: {detail}"
    assert not false_positives, f"{summary}. False positives: {fp}"


@pytest.mark.parametrize("secret", SECRETS, ids=[f"{s.kind}-{i}" for i, s in enumerate(SECRETS)])
def test_each_secret_is_hidden(secret: Secret) -> None:
    out = sanitize(secret.text)
    assert secret.secret not in out
    assert "[" in out, "a secret was removed without a placeholder"
    # Idempotent: sanitizing twice changes nothing more.
    assert sanitize(out) == out


@pytest.mark.parametrize("kind", ["payment-key", "vcs-token", "jwt", "bearer", "url-password",
                                  "query-token", "private-key", "aws-access-key", "chat-token"])
def test_credentials_are_hidden_from_logs_too(kind: str) -> None:
    # Log lines of the HTTP stack keep hosts and paths but never a credential.
    for s in (s for s in SECRETS if s.kind == kind):
        assert s.secret not in redact_secrets(s.text)


def test_log_redaction_keeps_hosts() -> None:
    line = 'HTTP Request: GET http://10.0.0.5:8000/jobs/42 "HTTP/1.1 200 OK"'
    assert redact_secrets(line) == line


# -- the fast path: lowercase letters and digits are returned without running the rules -------

@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=80))
def test_no_rule_matches_lowercase_letters_and_digits_alone(text: str) -> None:
    assert _plain(text)
    assert _apply_rules(text) == text


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=14)
       | st.sampled_from(["sk-", "sk_", "xoxb-", "xoxp-", "glpat-", "hf_", "npm_", "sk_live_",
                          "sk_test_", "whsec_", "ghp_", "pypi-", "github_pat_"]).flatmap(
           lambda p: st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-",
                             max_size=14 - len(p)).map(lambda s: p + s)))
def test_no_rule_matches_short_lowercase_words_with_separators(text: str) -> None:
    assert _plain(text)
    assert _apply_rules(text) == text


@pytest.mark.parametrize("text", [
    "sk_live_abcdefgh12345678", "AKIAABCDEFGHIJKLMNOP", "ghp_" + "a" * 24, "a@b.example",
    "xoxb-0123456789", "sk-abcdefghijklmnop",
    "/home/someone/file", "10.0.0.1", "token abcdefghijklmnopqrstuvwxyz", "hf_" + "x" * 30,
])
def test_what_takes_the_rules_is_not_plain(text: str) -> None:
    assert not _plain(text)
    assert sanitize(text) != text
