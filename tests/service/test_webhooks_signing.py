"""Signing and verifying webhooks: any body under any secret verifies, and any change to
the body, the signature, the secret or the time does not."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punchcard.service.webhooks import TOLERANCE, SignatureError, sign, verify

NOW = 1_780_000_000
bodies = st.dictionaries(st.text(max_size=8), st.one_of(st.text(), st.integers(), st.booleans()), max_size=5).map(
    lambda payload: json.dumps(payload, ensure_ascii=False).encode())
secrets = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s)


@given(body=bodies, secret=secrets, skew=st.integers(-TOLERANCE, TOLERANCE))
def test_any_body_and_secret_round_trip(body, secret, skew):
    header = sign(body, secret, NOW)
    assert verify(body, header, secret, now=NOW + skew) == json.loads(body)
    assert verify(body.decode(), header, secret, now=NOW) == json.loads(body)  # text as received works too


@given(body=bodies, secret=secrets, data=st.data())
def test_any_change_to_the_body_fails(body, secret, data):
    header = sign(body, secret, NOW)
    at = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = body[:at] + bytes([body[at] ^ flip]) + body[at + 1:]
    with pytest.raises(SignatureError):
        verify(tampered, header, secret, now=NOW)
    with pytest.raises(SignatureError):
        verify(body + b" ", header, secret, now=NOW)


@given(body=bodies, secret=secrets, other=secrets)
def test_another_secret_fails(body, secret, other):
    if other == secret:
        return
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(body, sign(body, secret, NOW), other, now=NOW)


@given(body=bodies, secret=secrets, late=st.integers(TOLERANCE + 1, 10**8))
def test_an_old_or_future_timestamp_fails(body, secret, late):
    header = sign(body, secret, NOW)
    for now in (NOW + late, NOW - late):
        with pytest.raises(SignatureError, match="tolerance"):
            verify(body, header, secret, now=now)


@given(body=bodies, secret=secrets, stamp=st.integers(0, 10**10))
def test_a_timestamp_changed_in_the_header_fails(body, secret, stamp):
    mac = sign(body, secret, NOW).split(",")[1]
    if stamp == NOW:
        return
    with pytest.raises(SignatureError):
        verify(body, f"t={stamp},{mac}", secret, now=stamp)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=now,v1=abc", "t=1,t=2,v1=abc", "t=1780000000", "garbage"])
def test_a_malformed_header_fails(header):
    with pytest.raises(SignatureError):
        verify(b"{}", header, "secret", now=NOW)


def test_any_of_several_signatures_may_match():
    """A header may carry several v1 signatures (a secret being rolled over): one match is enough."""
    body = b'{"type":"tier.changed"}'
    good = sign(body, "new", NOW).split(",")[1]
    assert verify(body, f"t={NOW},v1={'0' * 64},{good}", "new", now=NOW) == {"type": "tier.changed"}


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    """The scheme the docs give for other languages: HMAC-SHA256 over "<t>.<body>", hex."""
    body = b'{"id":"e-1/webhook/1"}'
    expected = hmac.new(b"whsec", b"1780000000." + body, hashlib.sha256).hexdigest()
    assert sign(body, "whsec", NOW) == f"t={NOW},v1={expected}"


def test_the_documented_openssl_line_agrees():
    """docs/service.md's shell recipe: printf '%s.%s' t body | openssl dgst -sha256 -hmac secret."""
    body = '{"id":"e-1/webhook/1","type":"points.redeemed"}'
    line = f"printf '%s.%s' '{NOW}' '{body}' | openssl dgst -sha256 -hmac 'whsec' | sed 's/^.*= //'"
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True).stdout.strip()
    assert sign(body.encode(), "whsec", NOW) == f"t={NOW},v1={out}"
