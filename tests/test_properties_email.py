"""Invariant: an address is accepted exactly when `email-validator` (no DNS) accepts it,
stored lower-cased in one form, so one person is one address everywhere.

The fast path in `normalize_email` (plain ASCII addresses, checked without the library)
must agree with the library on every address it takes.
"""

from __future__ import annotations

import string

from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given
from hypothesis import strategies as st

from cxops.audience.contacts import _plain, normalize_email

ATOM = string.ascii_letters + string.digits + "_%+-"
LABEL = string.ascii_letters + string.digits + "-"

local_parts = st.lists(st.text(ATOM, min_size=1, max_size=20), min_size=1, max_size=4).map(".".join)
labels = st.text(LABEL, min_size=1, max_size=20)
domains = st.builds(
    lambda parts, tld: ".".join([*parts, tld]),
    st.lists(labels, min_size=1, max_size=3),
    st.sampled_from(["com", "example", "io", "de", "test", "local", "Org", "x", "c0m", "onion"]),
)
plain_addresses = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)


def library(text: str) -> str | None:
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return None
    return (checked.ascii_email or checked.normalized).lower()


@given(plain_addresses)
@example("Ann@X.Example")
@example("a-@b.com")
@example("a@b-.com")
@example("a@xn--b.com")
def test_the_fast_path_agrees_with_email_validator(address: str) -> None:
    if _plain(address):
        assert library(address) == address.lower()
    assert normalize_email(address) == library(address)


@given(st.text(max_size=80))
@example("anna@müller.example")
@example('"a b"@x.com')
@example("a@[127.0.0.1]")
@example("a..b@x.com")
@example("a@localhost")
def test_any_text_is_accepted_exactly_when_the_library_accepts_it(text: str) -> None:
    expected = library(text.strip()) if text.strip() else None
    assert normalize_email(text) == expected


@given(plain_addresses)
def test_case_never_makes_two_people(address: str) -> None:
    assert normalize_email(address.upper()) == normalize_email(address.lower())


def test_internationalised_domains_are_kept_deliverable() -> None:
    assert normalize_email("anna@müller.example") == "anna@xn--mller-kva.example"
    assert normalize_email("ANNA@MÜLLER.EXAMPLE") == "anna@xn--mller-kva.example"
    for undeliverable in ('"a b"@x.com', "a@[1.2.3.4]", "x@localhost", "a@x.test", "a@b"):
        assert normalize_email(undeliverable) is None, undeliverable
