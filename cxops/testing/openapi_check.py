"""Requests and answers checked against an OpenAPI 3.0 document, with `jsonschema`.

`OpenApiCheck(document)` finds the operation of a method and path (path templates such
as `/crm/v3/objects/contacts/{contactId}` included), and says in words what is wrong
with a request's query, content type and JSON body, or with an answer's body, each
checked against the document's schemas with their `$ref`s resolved. The local HubSpot
server (`cxops.testing.hubspot_server`) checks every request and its own answers
with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

_BASE = "urn:openapi-document"


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: Mapping[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.spec.get("operationId", f"{self.method} {self.template}"))


class OpenApiCheck:
    """The operations of one OpenAPI document and the checks of their requests."""

    def __init__(self, document: Mapping[str, Any]):
        self.document = document
        resource = Resource.from_contents(dict(document), default_specification=DRAFT7)
        self._registry: Registry[Any] = Registry().with_resource(_BASE, resource)
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, spec in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    self.operations.append(Operation(method.upper(), template, pattern, spec))
        # Fixed paths before templated ones: `/batch/read` is not `/{contactId}`.
        self.operations.sort(key=lambda op: "{" in op.template)

    def find(self, method: str, path: str) -> tuple[Operation | None, bool]:
        """The operation of `method` on `path`, and whether the path exists at all."""
        known = False
        for operation in self.operations:
            if operation.pattern.match(path):
                known = True
                if operation.method == method:
                    return operation, True
        return None, known

    def request_problems(
        self,
        operation: Operation,
        query: Mapping[str, list[str]],
        content_type: str | None,
        body: Any,
        has_body: bool,
    ) -> list[str]:
        """What is wrong with a request of `operation`; empty when it is acceptable."""
        problems = self._query_problems(operation, query)
        request_body = operation.spec.get("requestBody")
        if request_body is None:
            if has_body:
                problems.append(f"{operation.operation_id} takes no request body")
            return problems
        media = request_body.get("content", {})
        kind = (content_type or "").split(";")[0].strip().lower()
        if kind not in media:
            expected = ", ".join(sorted(media))
            problems.append(f"Content-Type {content_type!r}: expected {expected}")
            return problems
        if not has_body:
            if request_body.get("required"):
                problems.append("the request body is required")
            return problems
        if body is _NOT_JSON:
            problems.append("the request body is not JSON")
            return problems
        schema = media[kind].get("schema")
        if schema is not None:
            problems += self.schema_problems(schema, body, "body")
        return problems

    def response_problems(self, operation: Operation, status: int, body: Any) -> list[str]:
        """What is wrong with an answer of `status` to `operation` (the document's schema
        for that status, else its `default`)."""
        responses = operation.spec.get("responses", {})
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            return [f"{operation.operation_id} documents no answer {status}"]
        response = self._resolved(response)
        content = response.get("content") or {}
        media = content.get("application/json") or content.get("*/*")
        if media is None or "schema" not in media:
            return []
        return self.schema_problems(media["schema"], body, "answer")

    def schema_problems(self, schema: Mapping[str, Any], value: Any, what: str) -> list[str]:
        validator = Draft7Validator(_anchored(schema), registry=self._registry)
        return [
            f"{what}{''.join(f'[{p!r}]' for p in error.absolute_path)}: {error.message}"
            for error in sorted(validator.iter_errors(value), key=lambda e: list(e.path))
        ]

    def _query_problems(self, operation: Operation, query: Mapping[str, list[str]]) -> list[str]:
        declared = {p["name"]: p for p in map(self._resolved, operation.spec.get("parameters", []))}
        problems = []
        for name, values in query.items():
            parameter = declared.get(name)
            if parameter is None or parameter.get("in") != "query":
                problems.append(
                    f"query parameter {name!r} is not one of {operation.operation_id}'s"
                )
                continue
            kind = parameter.get("schema", {}).get("type")
            for value in values:
                if kind == "boolean" and value not in ("true", "false"):
                    problems.append(f"query parameter {name}={value!r}: expected true or false")
                elif kind == "integer" and not value.lstrip("-").isdigit():
                    problems.append(f"query parameter {name}={value!r}: expected an integer")
        for name, parameter in declared.items():
            if parameter.get("in") == "query" and parameter.get("required") and name not in query:
                problems.append(f"query parameter {name!r} is required")
        return problems

    def _resolved(self, item: Mapping[str, Any]) -> Mapping[str, Any]:
        if "$ref" not in item:
            return item
        resolver = self._registry.resolver(base_uri=_BASE)
        resolved: Mapping[str, Any] = resolver.lookup(str(item["$ref"])).contents
        return resolved


def _anchored(schema: Any) -> Any:
    """`schema` with its document-relative `$ref`s (`#/components/…`) made absolute."""
    if isinstance(schema, Mapping):
        return {
            key: (_BASE + value)
            if key == "$ref" and isinstance(value, str) and value.startswith("#")
            else _anchored(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_anchored(item) for item in schema]
    return schema


class _NotJson:
    def __repr__(self) -> str:
        return "<not JSON>"


#: A body that was sent but could not be read as JSON.
_NOT_JSON: Any = _NotJson()
NOT_JSON = _NOT_JSON
