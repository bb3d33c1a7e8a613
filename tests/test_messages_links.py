"""The links of an invitation: URL contract with the collector, token purposes, expiry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cxops.errors import TokenError
from cxops.messages.links import LinkMaker, links_for, unsubscribe_headers
from cxops.messages.tokens import read_token
from cxops.settings import Settings, get_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return get_settings(project_dir=tmp_path, public_url="https://cx.acme.example/")


def _token(url: str, prefix: str) -> str:
    assert url.startswith(prefix), url
    return url[len(prefix) :]


def test_links_follow_the_collector_contract(settings: Settings) -> None:
    expires_at = settings.clock() + timedelta(days=14)
    links = links_for(settings, "send-1", expires_at)
    key = settings.signing_key()
    now = settings.clock()
    answer = _token(links.answer, "https://cx.acme.example/a/")
    unsubscribe = _token(links.unsubscribe, "https://cx.acme.example/u/")
    honeypot = _token(links.honeypot, "https://cx.acme.example/h/")
    assert read_token(key, "answer", answer, now=now) == "send-1"
    assert read_token(key, "unsubscribe", unsubscribe, now=now) == "send-1"
    assert read_token(key, "honeypot", honeypot, now=now) == "send-1"
    assert links.as_dict() == {
        "answer": links.answer,
        "unsubscribe": links.unsubscribe,
        "honeypot": links.honeypot,
    }


def test_answer_and_honeypot_expire_with_the_invitation(settings: Settings) -> None:
    expires_at = settings.clock() + timedelta(days=7)
    links = links_for(settings, "send-1", expires_at)
    key = settings.signing_key()
    for url, purpose in ((links.answer, "answer"), (links.honeypot, "honeypot")):
        token = url.rsplit("/", 1)[1]
        assert read_token(key, purpose, token, now=expires_at) == "send-1"
        with pytest.raises(TokenError) as caught:
            read_token(key, purpose, token, now=expires_at + timedelta(seconds=1))
        assert caught.value.expired


def test_unsubscribe_works_for_a_year(settings: Settings) -> None:
    links = links_for(settings, "send-1", settings.clock() + timedelta(days=7))
    token = links.unsubscribe.rsplit("/", 1)[1]
    key = settings.signing_key()
    assert (
        read_token(key, "unsubscribe", token, now=settings.clock() + timedelta(days=365))
        == "send-1"
    )
    with pytest.raises(TokenError) as caught:
        read_token(key, "unsubscribe", token, now=settings.clock() + timedelta(days=366))
    assert caught.value.expired


def test_link_tokens_do_not_open_other_pages(settings: Settings) -> None:
    links = links_for(settings, "send-1", settings.clock() + timedelta(days=7))
    key = settings.signing_key()
    answer_token = links.answer.rsplit("/", 1)[1]
    for purpose in ("unsubscribe", "honeypot", "task"):
        with pytest.raises(TokenError):
            read_token(key, purpose, answer_token, now=settings.clock())


def test_a_tampered_link_is_rejected(settings: Settings) -> None:
    links = links_for(settings, "send-1", settings.clock() + timedelta(days=7))
    token = links.answer.rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(TokenError) as caught:
        read_token(settings.signing_key(), "answer", tampered, now=settings.clock())
    assert not caught.value.expired


def test_links_differ_per_send(settings: Settings) -> None:
    expires_at = settings.clock() + timedelta(days=7)
    first, second = (
        links_for(settings, "send-1", expires_at),
        links_for(settings, "send-2", expires_at),
    )
    assert {first.answer, first.unsubscribe, first.honeypot}.isdisjoint(
        {second.answer, second.unsubscribe, second.honeypot}
    )


def test_one_click_unsubscribe_headers(settings: Settings) -> None:
    links = links_for(settings, "send-1", settings.clock() + timedelta(days=7))
    assert unsubscribe_headers(links) == {
        "List-Unsubscribe": f"<{links.unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_a_link_maker_gives_every_send_what_links_for_gives(settings: Settings) -> None:
    expires_at = settings.clock() + timedelta(days=14)
    maker = LinkMaker(settings, expires_at)
    for send_id in ("send-1", "send-2", "Zoë-3"):
        assert maker.links(send_id) == links_for(settings, send_id, expires_at)
