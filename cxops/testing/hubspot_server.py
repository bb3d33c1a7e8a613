"""A local HubSpot-compatible CRM contacts server, for tests and the demo.

`running_hubspot_server(token=..., contacts={email: {property: value}})` serves the
CRM v3 contacts API on 127.0.0.1 (an ephemeral port) in a background thread. Every
request is checked against HubSpot's published OpenAPI document of that API,
`hubspot_crm_contacts_v3.json` beside this module, vendored unchanged from
github.com/HubSpot/HubSpot-public-api-spec-collection, path
`PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json` at commit
99893791383254f52aa07662baeb98aad65cc710 (the file last changed in ab9ffa9c6f45):
its path and method (404/405), the bearer token of a private app (401), the query's
parameters, the Content-Type and the body against the operation's request schema
(400 `VALIDATION_ERROR`, the problems in `.rejected`). HubSpot's documented rules the
document does not state are checked too: at most 100 inputs per batch, and only
properties that exist (`PROPERTY_DOESNT_EXIST`).

What it answers: `batch/read` (by id, or by `idProperty: email`; inputs it does not
know are 207 `OBJECT_NOT_FOUND` errors) and `batch/update` (by id or `idProperty`; an
empty string clears a property), each answer itself checked against the document's
response schema (a mismatch is a 500 naming it). Other operations of the document
answer 501. Contacts live in memory: `.add_contact(email, **properties)`,
`.contact(email)`. Faults (`Fault.throttle(retry_after=…)`, `Fault.server_error()`)
answer the next accepted requests, in order, instead of handling them.

Run it by hand with `python -m cxops.testing.hubspot_server --token TOKEN [--port N]`.
"""

from __future__ import annotations

import argparse
import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cxops.testing.loopback import serving
from cxops.testing.openapi_check import NOT_JSON, OpenApiCheck

SPEC_PATH = Path(__file__).with_name("hubspot_crm_contacts_v3.json")
#: HubSpot's documented limit on the inputs of one batch request.
MAX_BATCH_INPUTS = 100
#: Properties every contact has (HubSpot's defaults among them) and cxops's defaults.
DEFAULT_PROPERTIES = frozenset(
    {
        "email",
        "firstname",
        "lastname",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
        "cx_nps_score",
        "cx_nps_category",
        "cx_nps_date",
        "cx_open_task",
    }
)
_CHECK: OpenApiCheck | None = None
_CHECK_LOCK = threading.Lock()


def spec_check() -> OpenApiCheck:
    """The vendored document's checks (read once per process)."""
    global _CHECK
    with _CHECK_LOCK:
        if _CHECK is None:
            _CHECK = OpenApiCheck(json.loads(SPEC_PATH.read_text()))
        return _CHECK


@dataclass
class Fault:
    """How the server answers the next `times` accepted requests instead of handling them."""

    status: int
    times: int = 1
    retry_after: int | None = None
    policy: str = "TEN_SECONDLY_ROLLING"

    @classmethod
    def throttle(
        cls, retry_after: int | None = 1, times: int = 1, policy: str = "TEN_SECONDLY_ROLLING"
    ) -> Fault:
        """429 with HubSpot's rate-limit body; `policy="DAILY"` is the daily limit."""
        return cls(429, times, retry_after=retry_after, policy=policy)

    @classmethod
    def server_error(cls, times: int = 1, status: int = 500) -> Fault:
        return cls(status, times)


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server saw it (never its Authorization header) and its answer."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int
    problems: tuple[str, ...] = ()


@dataclass
class HubSpotServer:
    """State and control of one running server; see `running_hubspot_server`."""

    token: str
    properties: set[str] = field(default_factory=lambda: set(DEFAULT_PROPERTIES))
    faults: list[Fault] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _contacts: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _meta: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    _by_email: dict[str, str] = field(default_factory=dict, repr=False)
    _next_id: int = 1001
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- control ---------------------------------------------------------------------

    def add_contact(self, email: str, **properties: str) -> str:
        """A contact with `email` (and `properties`); its id."""
        now = _now()
        with self._lock:
            contact_id = str(self._next_id)
            self._next_id += 1
            self._contacts[contact_id] = {"email": email.lower(), **properties}
            self._by_email[email.strip().lower()] = contact_id
            self._meta[contact_id] = (now, now)
        return contact_id

    def remove_contact(self, email: str) -> None:
        with self._lock:
            contact_id = self._id_of(email)
            if contact_id is not None:
                del self._contacts[contact_id]
                del self._by_email[email.strip().lower()]

    def contact(self, email: str) -> dict[str, str] | None:
        """The contact's properties (a copy), or None."""
        with self._lock:
            contact_id = self._id_of(email)
            return None if contact_id is None else dict(self._contacts[contact_id])

    def add_faults(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    @property
    def rejected(self) -> list[Received]:
        """The requests refused because they broke the document or HubSpot's rules."""
        with self._lock:
            return [r for r in self.received if r.problems]

    def calls(self, suffix: str) -> list[Received]:
        """The requests whose path ends with `suffix` (`batch/update`), in order."""
        with self._lock:
            return [r for r in self.received if r.path.endswith(suffix)]

    # -- handling (the request thread) ---------------------------------------------------

    def next_fault(self) -> Fault | None:
        with self._lock:
            while self.faults and self.faults[0].times <= 0:
                self.faults.pop(0)
            if not self.faults:
                return None
            self.faults[0].times -= 1
            return self.faults[0]

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def batch_read(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        started = _now()
        id_property = body.get("idProperty")
        wanted = [str(p) for p in body["properties"]] + ["hs_object_id"]
        results, missing = [], []
        with self._lock:
            for item in body["inputs"]:
                contact_id = self._find(item["id"], id_property)
                if contact_id is None:
                    missing.append(item["id"])
                    continue
                results.append(self._public(contact_id, wanted))
        return _batch_answer(started, results, missing)

    def batch_update(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        started = _now()
        unknown = sorted(
            {name for item in body["inputs"] for name in item["properties"]} - self.properties
        )
        if unknown:
            return 400, _error(
                "VALIDATION_ERROR",
                "Property values were not valid: "
                + json.dumps(
                    [
                        {
                            "isValid": False,
                            "message": f'Property "{name}" does not exist',
                            "error": "PROPERTY_DOESNT_EXIST",
                            "name": name,
                        }
                        for name in unknown
                    ]
                ),
            )
        results, missing = [], []
        with self._lock:
            for item in body["inputs"]:
                contact_id = self._find(item["id"], item.get("idProperty"))
                if contact_id is None:
                    missing.append(item["id"])
                    continue
                contact = self._contacts[contact_id]
                if item["properties"].get("email"):
                    self._by_email.pop(contact.get("email", ""), None)
                    self._by_email[item["properties"]["email"].strip().lower()] = contact_id
                for name, value in item["properties"].items():
                    if value == "":
                        contact.pop(name, None)
                    else:
                        contact[name] = value
                self._meta[contact_id] = (self._meta[contact_id][0], _now())
                results.append(self._public(contact_id, list(item["properties"])))
        return _batch_answer(started, results, missing)

    def _find(self, key: str, id_property: str | None) -> str | None:
        if id_property in (None, "hs_object_id"):
            return key if key in self._contacts else None
        if id_property == "email":
            return self._id_of(key)
        return None

    def _id_of(self, email: str) -> str | None:
        return self._by_email.get(email.strip().lower())

    def _public(self, contact_id: str, names: Iterable[str]) -> dict[str, Any]:
        created, updated = self._meta[contact_id]
        contact = self._contacts[contact_id]
        properties = {name: contact[name] for name in names if name in contact}
        properties["hs_object_id"] = contact_id
        return {
            "id": contact_id,
            "properties": properties,
            "createdAt": created,
            "updatedAt": updated,
            "archived": False,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _batch_answer(
    started: str, results: list[dict[str, Any]], missing: list[str]
) -> tuple[int, dict[str, Any]]:
    answer: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": _now(),
    }
    if not missing:
        return 200, answer
    answer["numErrors"] = 1
    answer["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": missing},
            "errors": [],
            "links": {},
        }
    ]
    return 207, answer


def _error(category: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }


_HANDLERS = {
    "post-/crm/v3/objects/contacts/batch/read_read": HubSpotServer.batch_read,
    "post-/crm/v3/objects/contacts/batch/update_update": HubSpotServer.batch_update,
}


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = NOT_JSON
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}

        def answer(status: int, payload: Any, problems: Iterable[str] = (), **extra: str) -> None:
            shown = None if body is NOT_JSON else body
            state.record(
                Received(method, parts.path, query, headers, shown, status, tuple(problems))
            )
            self._answer(status, payload, extra)

        check = spec_check()
        operation, known = check.find(method, parts.path)
        if operation is None:
            status = 405 if known else 404
            answer(
                status, _error("OBJECT_NOT_FOUND", f"{method} {parts.path}"), ["no such operation"]
            )
            return
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            message = "Authentication credentials not found."
            answer(401, _error("INVALID_AUTHENTICATION", message), ["no valid bearer token"])
            return
        problems = check.request_problems(
            operation, query, self.headers.get("Content-Type"), body, bool(raw)
        )
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not problems and isinstance(inputs, list) and len(inputs) > MAX_BATCH_INPUTS:
            problems.append(
                f"Batch input size {len(inputs)} exceeds the limit of {MAX_BATCH_INPUTS}"
            )
        if problems:
            answer(400, _error("VALIDATION_ERROR", "; ".join(problems)), problems)
            return
        fault = state.next_fault()
        if fault is not None:
            self._fault(fault, answer)
            return
        handler = _HANDLERS.get(operation.operation_id)
        if handler is None:
            message = f"the local server does not implement {operation.operation_id}"
            answer(501, _error("NOT_IMPLEMENTED", message))
            return
        status, payload = handler(state, body)
        own = check.response_problems(operation, status, payload)
        if own:  # the stand-in itself strayed from the document: say so loudly
            answer(500, _error("STAND_IN_ERROR", "; ".join(own)))
            return
        answer(status, payload)

    def _fault(self, fault: Fault, answer: Any) -> None:
        if fault.status == 429:
            limit = "daily" if fault.policy == "DAILY" else "secondly"
            payload = _error(
                "RATE_LIMITS",
                f"You have reached your {limit} limit.",
                errorType="RATE_LIMIT",
                policyName=fault.policy,
            )
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            answer(429, payload, **extra)
            return
        answer(fault.status, _error("INTERNAL_ERROR", "internal error"))

    def _answer(self, status: int, payload: Any, headers: Mapping[str, str]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    state: HubSpotServer


@contextmanager
def running_hubspot_server(
    token: str = "pat-na1-test-token",
    contacts: Mapping[str, Mapping[str, str]] | Iterable[str] = (),
    faults: Iterable[Fault] = (),
    port: int = 0,
) -> Iterator[HubSpotServer]:
    """A server on 127.0.0.1 (ephemeral port unless given) for the `with` block."""
    state = HubSpotServer(token=token, faults=list(faults))
    items: Iterable[tuple[str, Mapping[str, str]]] = (
        contacts.items() if isinstance(contacts, Mapping) else ((e, {}) for e in contacts)
    )
    for email, properties in items:
        state.add_contact(email, **properties)
    spec_check()
    httpd = _HTTPServer(("127.0.0.1", port), _Handler)
    httpd.state = state
    with serving(httpd, "hubspot-server") as url:
        state.url = url
        yield state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local HubSpot-compatible contacts API.")
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with running_hubspot_server(token=args.token, port=args.port) as server:
        print(f"HubSpot-compatible server at {server.url} (Ctrl-C stops it)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print(f"received {len(server.received)} requests")


if __name__ == "__main__":
    main()
