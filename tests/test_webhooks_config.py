"""`webhooks:` in `[tool.cxops]`: each mistake is one line naming the entry and what was
expected; the secret's Standard Webhooks form is checked when it is read."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cxops.errors import ConfigError
from cxops.settings import get_settings
from cxops.webhooks.signing import check_secret


def _settings_of(tmp_path: Path, entries: str) -> object:
    (tmp_path / "pyproject.toml").write_text(f"[tool.cxops]\n{entries}")
    return get_settings(project_dir=tmp_path)


def test_tables_in_pyproject_become_endpoints(tmp_path: Path) -> None:
    settings = _settings_of(
        tmp_path,
        '[[tool.cxops.webhooks]]\nurl = "https://hooks.example/cx/"\n'
        'events = ["response.completed", "person.erased"]\nsecret_env = "CX_SECRET"\n'
        '[[tool.cxops.webhooks]]\nurl_env = "CRM_HOOK"\nevents = ["task.closed"]\n'
        'secret_env = "CRM_SECRET"\n',
    )
    first, second = settings.webhooks  # type: ignore[attr-defined]
    assert (first.name, first.events) == (
        "https://hooks.example/cx",
        ("response.completed", "person.erased"),
    )
    assert (second.name, second.url, second.secret_env) == ("env:CRM_HOOK", None, "CRM_SECRET")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'url = "https://a.example"\nevents = ["response.done"]\nsecret_env = "S"',
            "entry 1 (https://a.example): unknown event 'response.done'; expected one of "
            "response.completed, task.created, task.closed, person.unsubscribed, person.erased",
        ),
        (
            'url = "https://a.example"\nurl_env = "U"\nevents = ["task.created"]\nsecret_env = "S"',
            "entry 1 (https://a.example): expected exactly one of url and url_env",
        ),
        (
            'events = ["task.created"]\nsecret_env = "S"',
            "entry 1 (no url): expected exactly one of url and url_env",
        ),
        (
            'url = "ftp://a.example"\nevents = ["task.created"]\nsecret_env = "S"',
            "entry 1 (ftp://a.example): expected an http(s):// URL, found 'ftp://a.example'",
        ),
        (
            'url = "https://a.example"\nevents = []\nsecret_env = "S"',
            "entry 1 (https://a.example): expected events to be a list of",
        ),
        (
            'url = "https://a.example"\nevents = ["task.created"]',
            "entry 1 (https://a.example): expected secret_env to name an environment variable, "
            "found None",
        ),
        (
            'url = "https://a.example"\nevents = ["task.created"]\nsecret_env = "S"\nsecret = "x"',
            "entry 1 (https://a.example): unknown key 'secret'",
        ),
    ],
)
def test_a_wrong_entry_is_one_line_naming_it(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings_of(tmp_path, f"[[tool.cxops.webhooks]]\n{entry}\n")
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("setting webhooks (CXOPS_WEBHOOKS): ")
    assert message in text


def test_the_same_endpoint_twice_is_refused(tmp_path: Path) -> None:
    entry = '[[tool.cxops.webhooks]]\nurl = "https://a.example"\nevents = ["task.created"]\nsecret_env = "S"\n'
    with pytest.raises(
        ConfigError, match=r"entry 2 \(https://a.example\): the same endpoint as entry 1"
    ):
        _settings_of(tmp_path, entry * 2)


def test_the_environment_holds_them_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CXOPS_WEBHOOKS",
        '[{"url": "https://a.example/h", "events": ["task.closed"], "secret_env": "S"}]',
    )
    (endpoint,) = get_settings(project_dir=tmp_path).webhooks
    assert endpoint.name == "https://a.example/h"


def test_a_secret_must_be_whsec_and_base64_of_24_to_64_bytes() -> None:
    good = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert check_secret(good, "S").sign("msg_1", datetime.now(UTC), b"{}").startswith("v1,")
    for bad, expected in [
        ("s3cret", "expected a Standard Webhooks secret"),
        ("whsec_not base64!", "found 0 bytes"),
        ("whsec_" + base64.b64encode(b"k" * 8).decode(), "found 8 bytes"),
    ]:
        with pytest.raises(ValueError, match=expected) as caught:
            check_secret(bad, "HOOK_SECRET")
        assert str(caught.value).startswith("environment variable HOOK_SECRET: expected")
