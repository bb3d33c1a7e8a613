"""Time zones named by users: a zone, or a ValueError saying what was expected."""

from __future__ import annotations

import pytest

from cxops.timezones import time_zone


def test_a_zone_of_the_database_is_found() -> None:
    assert time_zone("Europe/Berlin").key == "Europe/Berlin"
    assert time_zone("UTC").key == "UTC"


@pytest.mark.parametrize(
    "name",
    ["Europe", "America/Argentina", "Europe/Munich", "Europe/", "", "/etc/passwd", "../UTC"],
)
def test_anything_else_is_a_value_error_naming_it(name: str) -> None:
    # `Europe` is a folder of the zone database: zoneinfo raised IsADirectoryError.
    with pytest.raises(ValueError) as raised:
        time_zone(name)
    assert str(raised.value) == f"expected an IANA time zone like 'Europe/Berlin', found {name!r}"


def test_digest_refuses_a_bad_time_zone_in_one_line_before_any_flow_runs(empty_project) -> None:
    result = empty_project.run(["digest", "--timezone", "Europe"], expect_pass=False)
    assert result.stderr.strip() == (
        "error: --timezone: expected an IANA time zone like 'Europe/Berlin', found 'Europe'"
    )
    assert "Flow run" not in result.output and "Traceback" not in result.output
