"""Signed link tokens: round trip, tampering, expiry, purposes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxops.errors import TokenError
from cxops.messages.tokens import PURPOSES, TokenSigner, make_token, read_token

KEY = b"test-key-0123456789"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=14)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize("purpose", sorted(PURPOSES))
def test_round_trip_gives_the_subject(purpose: str) -> None:
    token = make_token(KEY, purpose, "send-abc", LATER)
    assert read_token(KEY, purpose, token, now=NOW) == "send-abc"


def test_token_is_url_safe_and_reveals_no_padding() -> None:
    token = make_token(KEY, "answer", "s" * 255, LATER)
    assert set(token) <= set(ALPHABET)


@pytest.mark.parametrize("subject", ["send-abc", "send-abcd", "send-abcde"])
def test_every_changed_character_is_rejected(subject: str) -> None:
    # Subjects of three lengths: the last base64 character carries 0, 2 or 4 spare bits.
    token = make_token(KEY, "answer", subject, LATER)
    for index in range(len(token)):
        for replacement in ALPHABET.replace(token[index], ""):
            tampered = token[:index] + replacement + token[index + 1 :]
            with pytest.raises(TokenError) as caught:
                read_token(KEY, "answer", tampered, now=NOW)
            assert caught.value.expired is False


def test_another_key_is_rejected() -> None:
    token = make_token(KEY, "answer", "send-abc", LATER)
    with pytest.raises(TokenError, match="bad signature"):
        read_token(b"other-key", "answer", token, now=NOW)


def test_expired_token_says_so() -> None:
    token = make_token(KEY, "answer", "send-abc", LATER)
    assert read_token(KEY, "answer", token, now=LATER) == "send-abc"
    with pytest.raises(TokenError) as caught:
        read_token(KEY, "answer", token, now=LATER + timedelta(seconds=1))
    assert caught.value.expired is True


@pytest.mark.parametrize("made_for", sorted(PURPOSES))
def test_purposes_do_not_cross(made_for: str) -> None:
    token = make_token(KEY, made_for, "send-abc", LATER)
    for other in PURPOSES - {made_for}:
        with pytest.raises(TokenError) as caught:
            read_token(KEY, other, token, now=NOW)
        assert caught.value.expired is False


@pytest.mark.parametrize("garbage", ["", "a", "!!!!", "abc$def", "A" * 10])
def test_malformed_tokens_are_rejected(garbage: str) -> None:
    with pytest.raises(TokenError):
        read_token(KEY, "answer", garbage, now=NOW)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="purpose"):
        make_token(KEY, "login", "send-abc", LATER)
    with pytest.raises(ValueError, match="subject"):
        make_token(KEY, "answer", "", LATER)
    with pytest.raises(ValueError, match="subject"):
        make_token(KEY, "answer", "x" * 256, LATER)


def test_tokens_are_exactly_the_documented_format() -> None:
    """expiry (4 bytes) + subject length + subject + HMAC-SHA256(purpose NUL payload)[:16]."""
    import base64
    import hashlib
    import hmac
    import struct

    subject = "send-ü-0123456789"
    payload = struct.pack(">IB", int(LATER.timestamp()), len(subject.encode())) + subject.encode()
    for purpose in sorted(PURPOSES):
        signature = hmac.new(KEY, purpose.encode() + b"\0" + payload, hashlib.sha256).digest()
        expected = base64.urlsafe_b64encode(payload + signature[:16]).rstrip(b"=").decode()
        assert make_token(KEY, purpose, subject, LATER) == expected
        assert TokenSigner(KEY, purpose, LATER).sign(subject) == expected


def test_a_signer_refuses_what_make_token_refuses() -> None:
    with pytest.raises(ValueError, match="purpose"):
        TokenSigner(KEY, "admin", LATER)
    signer = TokenSigner(KEY, "answer", LATER)
    for subject in ("", "s" * 256):
        with pytest.raises(ValueError, match="1-255 bytes"):
            signer.sign(subject)
