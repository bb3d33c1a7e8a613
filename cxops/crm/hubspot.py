"""HubSpot's CRM v3 contacts API: find contacts by email, update their properties, in batches.

Two requests, each of up to `MAX_BATCH` (100) inputs, HubSpot's batch limit:
`POST /crm/v3/objects/contacts/batch/read` with `idProperty: email` (contacts found by
address; those not found come back as `OBJECT_NOT_FOUND` errors and are simply absent)
and `POST /crm/v3/objects/contacts/batch/update` by contact id (an empty string clears
a property). Each request first takes a place in the `RequestBudget`. A 429 waits
`Retry-After` seconds (or the rest of the 10-second window when absent) and is
retried; a 429 of the daily limit stops at once. 5xx answers and requests that never
got an answer are retried with exponential backoff (1 s … 16 s): setting properties is
idempotent, so a retry can do no harm. Other 4xx stop with HubSpot's message.

The private app's token is sent as `Authorization: Bearer …` and appears nowhere else:
not in errors, results or logs.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from cxops.crm.limits import RequestBudget
from cxops.errors import CrmError

log = logging.getLogger(__name__)

#: HubSpot's limit on the inputs of one batch request.
MAX_BATCH = 100
READ_PATH = "/crm/v3/objects/contacts/batch/read"
UPDATE_PATH = "/crm/v3/objects/contacts/batch/update"
#: Attempts of one request that meets 5xx answers or no answer at all.
ATTEMPTS = 6
#: 429s in a row one request waits through before the push stops.
THROTTLES = 20
#: The longest `Retry-After` honoured; a longer one stops the push (the next one resumes).
MAX_RETRY_AFTER = 600.0


@dataclass(slots=True)
class UpdateOutcome:
    """Which contact ids a batch update wrote, and why the others were not."""

    updated: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)


class HubSpotClient:
    """Batched contact reads and updates, within the budget, with retries."""

    def __init__(
        self,
        api_url: str,
        token: SecretStr,
        budget: RequestBudget,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.budget = budget
        self.sleep = sleep
        self._token = token
        self._http = httpx.Client(base_url=api_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def requests(self) -> int:
        return self.budget.used

    def find_contacts(self, emails: Sequence[str]) -> dict[str, str]:
        """Address (lower case) -> contact id, for the addresses with a contact."""
        _check_size(emails)
        if not emails:
            return {}
        body = {
            "idProperty": "email",
            "inputs": [{"id": address} for address in emails],
            "properties": ["email"],
            "propertiesWithHistory": [],
        }
        answer = self._post(READ_PATH, body, "finding contacts by email")
        wanted = {address.lower() for address in emails}
        found = {}
        for result in answer.get("results", []):
            address = str((result.get("properties") or {}).get("email") or "").lower()
            if address in wanted:
                found[address] = str(result["id"])
        return found

    def update_contacts(self, updates: Mapping[str, Mapping[str, str]]) -> UpdateOutcome:
        """Set each contact id's properties (an empty string clears one)."""
        _check_size(updates)
        outcome = UpdateOutcome()
        if not updates:
            return outcome
        body = {
            "inputs": [
                {"id": contact_id, "properties": dict(properties)}
                for contact_id, properties in updates.items()
            ]
        }
        answer = self._post(UPDATE_PATH, body, "updating contacts")
        outcome.updated = {str(r["id"]) for r in answer.get("results", [])} & set(updates)
        for error in answer.get("errors", []):
            reason = f"{error.get('category', 'error')}: {error.get('message', '')}".strip()
            for contact_id in (error.get("context") or {}).get("ids", []):
                if contact_id in updates and contact_id not in outcome.updated:
                    outcome.failed[str(contact_id)] = reason[:300]
        for contact_id in set(updates) - outcome.updated - set(outcome.failed):
            outcome.failed[contact_id] = "not in HubSpot's answer"
        return outcome

    def _post(self, path: str, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        failures = throttles = 0
        while True:
            self.budget.take()
            try:
                response = self._http.post(
                    path,
                    json=body,
                    headers={
                        "Authorization": f"Bearer {self._token.get_secret_value()}",
                        "Accept": "application/json",
                    },
                )
            except httpx.TransportError as exc:
                failures += 1
                self._back_off(failures, f"{what}: {type(exc).__name__}")
                continue
            status = response.status_code
            if status in (200, 207):
                answer: dict[str, Any] = response.json()
                return answer
            if status == 429:
                throttles += 1
                self._wait_for_limit(response, throttles, what)
                continue
            if status >= 500:
                failures += 1
                self._back_off(failures, f"{what}: HubSpot answered {status}")
                continue
            raise CrmError(f"HubSpot refused {what} ({status}): {_message(response)}")

    def _back_off(self, failures: int, reason: str) -> None:
        if failures >= ATTEMPTS:
            raise CrmError(f"{reason}, {failures} times in a row: stopped (the next push resumes)")
        delay = float(2 ** (failures - 1))
        log.warning("%s; retrying in %.0f s", reason, delay)
        self.sleep(delay)

    def _wait_for_limit(self, response: httpx.Response, throttles: int, what: str) -> None:
        payload = _json(response)
        if payload.get("policyName") == "DAILY":
            raise CrmError(
                f"{what}: HubSpot's daily request limit is reached: the rest is written by "
                "the first push after it resets (midnight in the HubSpot account's time zone)"
            )
        if throttles > THROTTLES:
            raise CrmError(f"{what}: HubSpot answered 429 {THROTTLES} times in a row: stopped")
        delay = retry_after(response.headers.get("Retry-After"))
        if delay is None:
            delay = self.budget.window
        if delay > MAX_RETRY_AFTER:
            raise CrmError(
                f"{what}: HubSpot asked to wait {delay:.0f} s (Retry-After): stopped, the "
                "next push resumes"
            )
        log.info("HubSpot's rate limit: waiting %.1f s (Retry-After)", delay)
        self.sleep(delay)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _check_size(items: Sequence[Any] | Mapping[str, Any]) -> None:
    if len(items) > MAX_BATCH:
        raise ValueError(f"{len(items)} inputs: HubSpot takes at most {MAX_BATCH} per batch")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _message(response: httpx.Response) -> str:
    payload = _json(response)
    message = str(payload.get("message") or response.text or response.reason_phrase)
    category = payload.get("category")
    text = f"{category}: {message}" if category else message
    return text[:500]
