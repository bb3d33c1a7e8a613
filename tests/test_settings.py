from pathlib import Path

import pytest

from cxops.errors import ConfigError
from cxops.settings import (
    NON_SETTING_VARIABLES,
    Settings,
    get_settings,
    parse_contact_cap,
    settings_table,
)
from cxops.testing import run_cxops

#: A key of the right length with enough different bytes.
STRONG_KEY = "k3y-of-the-settings-tests-" + "0123456789"


def test_every_setting_has_an_env_name_and_description():
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} needs a description"
    assert "secret_key" in Settings.model_fields


def test_defaults_live_in_the_project_dir(empty_project):
    settings = get_settings()
    assert settings.project_dir == empty_project.root
    assert settings.store_url == f"sqlite:///{empty_project.root / 'cxops.db'}"
    assert settings.outbox_path == empty_project.root / "outbox"
    assert settings.channel == "outbox"
    assert settings.public_url == "http://127.0.0.1:8000"


def test_precedence_cli_over_env_over_dotenv_over_pyproject(empty_project, monkeypatch):
    empty_project.write(
        {
            "pyproject.toml": '[tool.cxops]\nchannel = "smtp"\npublic_url = "https://py.example"\n'
            'batch_size = 10\nholidays = "FR"\n',
            ".env": "CXOPS_PUBLIC_URL=https://dotenv.example\nCXOPS_BATCH_SIZE=20\n",
        }
    )
    settings = get_settings()
    assert settings.channel == "smtp"  # pyproject only
    assert settings.public_url == "https://dotenv.example"  # .env beats pyproject
    assert settings.batch_size == 20
    monkeypatch.setenv("CXOPS_BATCH_SIZE", "30")
    assert get_settings().batch_size == 30  # env beats .env
    assert get_settings(batch_size=40).batch_size == 40  # CLI beats env
    assert get_settings(batch_size=None).batch_size == 30  # flag not given
    assert get_settings().holidays == "FR"


def test_secrets_are_never_shown(empty_project, monkeypatch):
    monkeypatch.setenv("CXOPS_SENDGRID_API_KEY", "SG.very-secret")
    monkeypatch.setenv("CXOPS_DATABASE_URL", "postgresql+psycopg://u:pw123@db/x")
    settings = get_settings()
    assert "very-secret" not in repr(settings)
    shown = settings.redacted()
    assert "very-secret" not in str(shown) and "pw123" not in str(shown)
    assert settings.sendgrid_api_key.get_secret_value() == "SG.very-secret"
    result = empty_project.run(["settings", "--json"])
    assert "very-secret" not in result.output and "pw123" not in result.output


def test_bad_values_name_the_variable(empty_project, monkeypatch):
    monkeypatch.setenv("CXOPS_PUBLIC_URL", "ftp://nope")
    with pytest.raises(ConfigError, match="CXOPS_PUBLIC_URL"):
        get_settings()
    result = empty_project.run(["settings"], expect_pass=False)
    assert "CXOPS_PUBLIC_URL" in result.stderr and "Traceback" not in result.stderr


def test_contact_cap_parsing():
    cap = parse_contact_cap("2 per 14d")
    assert cap.count == 2 and str(cap.within) == "14d"
    assert parse_contact_cap("none") is None
    with pytest.raises(ValueError, match="N per DURATION"):
        parse_contact_cap("often")


def test_signing_key_is_generated_once_and_private(empty_project):
    settings = get_settings()
    key = settings.signing_key()
    assert key == get_settings().signing_key()
    path = Path(empty_project.root / ".cxops" / "secret_key")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert get_settings(secret_key=STRONG_KEY).signing_key() == STRONG_KEY.encode()


def _keys_read_at_once(project: Path, readers: int) -> tuple[list[bytes], list[BaseException]]:
    import threading

    start = threading.Barrier(readers)
    keys: list[bytes] = []
    errors: list[BaseException] = []

    def read_key() -> None:
        start.wait()
        try:
            keys.append(get_settings(project_dir=project).signing_key())
        except BaseException as exc:  # any failure is what the caller checks
            errors.append(exc)

    threads = [threading.Thread(target=read_key) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return keys, errors


def test_commands_starting_at_once_in_a_new_project_share_one_whole_key(tmp_path):
    """Two `cxops run` at once in a fresh project: one read the key file the other had
    created but not yet written (0 bytes), and a second creator failed (found by CI)."""
    for attempt in range(20):
        project = tmp_path / f"p{attempt}"
        project.mkdir()
        keys, errors = _keys_read_at_once(project, 12)
        assert errors == [] and len(set(keys)) == 1 and len(keys[0]) >= 32
        assert [p.name for p in (project / ".cxops").iterdir()] == ["secret_key"]  # no draft


def test_clock_honours_cxops_now(empty_project, monkeypatch):
    monkeypatch.setenv("CXOPS_NOW", "2026-01-02T03:04:05")
    now = get_settings().clock()
    assert (now.year, now.hour, now.utcoffset().total_seconds()) == (2026, 3, 0)


@pytest.mark.parametrize("key", ["", "short", "x" * 31])
def test_a_weak_secret_key_is_refused_with_one_line(empty_project, key):
    """Invariant: links are never signed with a key an attacker could guess (empty or short)."""
    with pytest.raises(ConfigError, match="at least 32"):
        get_settings(secret_key=key)
    result = run_cxops(["settings"], expect_pass=False, env={"CXOPS_SECRET_KEY": key})
    assert "CXOPS_SECRET_KEY" in result.stderr and "at least 32" in result.stderr
    assert "Traceback" not in result.stderr
    assert key == "" or key not in result.stderr


@pytest.mark.parametrize(
    ("key", "said"),
    [
        (" " * 32, "is blank"),
        ("\t \n " * 8, "is blank"),
        ("x" * 64, "only 1 different bytes"),
        ("abcdefg" * 5, "only 7 different bytes"),
    ],
)
def test_a_key_long_enough_but_blank_or_guessable_is_refused_with_one_line(
    empty_project, key, said
):
    with pytest.raises(ConfigError, match=said):
        get_settings(secret_key=key)
    result = run_cxops(["settings"], expect_pass=False, env={"CXOPS_SECRET_KEY": key})
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CXOPS_SECRET_KEY" in lines[0] and said in lines[0]
    assert key.strip() == "" or key not in result.stderr
    assert get_settings(secret_key="abcdefgh" * 4).signing_key() == b"abcdefgh" * 4  # 8 differ


@pytest.mark.parametrize(
    "url",
    [
        "https://cx.acme.example\n",
        "https://cx.acme.example\nX-Injected: 1",
        "https://cx.acme .example",
        "https://cx.acme.example/\x00",
        "https://cx.acme.example/\u200b",
        " https://cx.acme.example",
    ],
)
def test_a_public_url_with_a_space_or_control_character_is_refused_with_one_line(
    empty_project, url
):
    with pytest.raises(ConfigError, match="without spaces or control characters"):
        get_settings(public_url=url)
    if "\x00" in url:
        return  # an environment variable cannot hold a NUL byte
    result = run_cxops(["settings"], expect_pass=False, env={"CXOPS_PUBLIC_URL": url})
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CXOPS_PUBLIC_URL" in lines[0]
    assert "without spaces or control characters" in lines[0]


def test_a_weak_generated_key_file_is_refused(empty_project):
    path = Path(empty_project.root / ".cxops" / "secret_key")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("tiny\n")
    with pytest.raises(ConfigError, match="at least 32"):
        get_settings().signing_key()
    assert get_settings(secret_key=STRONG_KEY).signing_key() == STRONG_KEY.encode()


def test_a_misspelt_variable_is_refused_with_a_suggestion(empty_project, monkeypatch):
    monkeypatch.setenv("CXOPS_CHANEL", "sendgrid")
    with pytest.raises(ConfigError) as refused:
        get_settings()
    assert str(refused.value) == (
        "environment variable CXOPS_CHANEL is not a setting; did you mean CXOPS_CHANNEL?"
    )


def test_a_misspelt_key_in_dotenv_is_refused_at_its_line(empty_project):
    empty_project.write({".env": "# sending\nCXOPS_BATCH_SIZE=20\ncxops_chanel=sendgrid\n"})
    with pytest.raises(ConfigError) as refused:
        get_settings()
    dotenv = empty_project.root / ".env"
    assert str(refused.value) == (
        f"{dotenv}:3: cxops_chanel is not a setting; did you mean CXOPS_CHANNEL?"
    )


def test_a_misspelt_key_in_pyproject_is_refused_at_its_line(empty_project):
    empty_project.write(
        {
            "pyproject.toml": '[project]\nname = "research"\n\n[tool.cxops]\n'
            'channel = "smtp"\nmin_nn = 3\n\n[tool.other]\nmin_nn = 1\n'
        }
    )
    with pytest.raises(ConfigError) as refused:
        get_settings()
    pyproject = empty_project.root / "pyproject.toml"
    assert str(refused.value) == (
        f"{pyproject}:6: [tool.cxops] min_nn is not a setting; did you mean min_n?"
    )


def test_every_unknown_name_is_said_in_one_line_by_the_cli(empty_project, monkeypatch):
    empty_project.write({"pyproject.toml": "[tool.cxops]\nzzz = 1\n"})
    monkeypatch.setenv("CXOPS_PUBLIC_ULR", "https://x.example")
    result = empty_project.run(["settings"], expect_pass=False)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert (
        "environment variable CXOPS_PUBLIC_ULR is not a setting; did you mean CXOPS_PUBLIC_URL?"
        in line
    )
    assert "[tool.cxops] zzz is not a setting (`cxops settings` lists them)" in line
    assert "Traceback" not in result.stderr


def test_the_variables_that_are_not_settings_are_accepted(empty_project, monkeypatch):
    for name in NON_SETTING_VARIABLES:
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("CXOPS_CHANNEL", "smtp")  # a setting, as ever
    monkeypatch.setenv("OTHER_CHANEL", "x")  # not ours to judge
    empty_project.write({".env": "CXOPS_DEBUG=1\nSLACK_HOOK=https://hooks.example\n"})
    assert get_settings().channel == "smtp"
    assert {"CXOPS_DEBUG", "CXOPS_TEST_POSTGRES_URL"} <= set(NON_SETTING_VARIABLES)


def test_the_settings_reference_lists_every_setting():
    table = settings_table()
    for name, field in Settings.model_fields.items():
        assert f"| `CXOPS_{name.upper()}` | `{name}` |" in table
        assert field.description in table
    assert "| `CXOPS_SEND_LEASE_SECONDS` | `send_lease_seconds` | `900` |" in table


def test_every_setting_belongs_to_exactly_one_group():
    from cxops.settings import GROUPS

    grouped = [name for group in GROUPS for name in group.model_fields]
    assert sorted(grouped) == sorted(Settings.model_fields)
    assert len(grouped) == len(set(grouped))
    # The reference and `model_fields` list them in the groups' order.
    assert grouped == list(Settings.model_fields)
