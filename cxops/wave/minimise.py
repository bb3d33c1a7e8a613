"""Data minimisation: the contact columns a wave keeps in the send ledger.

The ledger's `contact` snapshot is read later by the invitation's templates (and the
question texts), by follow-up rules (`when`, `task`, `assign_to`, `context`), by the
contact policy (`when`, `per`), by the report (`report.revenue`, `report.outcome`) and
by digests (the customer's name). `kept_columns` is the union of what those read of
`contact`; everything else of the source row stays in the source. When a template or
an expression uses `contact` as a whole (`{{ contact }}`, `contact | items`, a dynamic
include), nothing can be told apart and every column is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import meta, nodes

from cxops.errors import CxopsError
from cxops.messages.env import email_environment, find_template_set, message_template
from cxops.policy.load import load_policy
from cxops.settings import Settings
from cxops.spec.models import Survey
from cxops.spec.report import report_columns

#: The columns a customer's name is read from, first found wins (digests, task pages).
NAME_COLUMNS = ("name", "full_name", "requester_name", "contact_name")
#: Columns always kept: the locale a reminder is rendered in, the recipient's display
#: name, and the names a digest shows a customer by. A template edited between planning
#: and sending that reads a column nobody read before stops the wave ("cannot render").
ALWAYS_KEPT = frozenset({"locale", *NAME_COLUMNS})
_PARSER = jinja2.Environment()


def kept_columns(survey: Survey, settings: Settings) -> frozenset[str] | None:
    """The contact columns the ledger keeps for `survey`; None: every column."""
    found: set[str] = set(ALWAYS_KEPT) | set(report_columns(survey))
    # The key is in the ledger anyway (contact_key); templates may read it as a column.
    key = getattr(survey.audience.source, "key", None)
    if isinstance(key, str):
        found.add(key)
    for rule in survey.followup:
        found.update(rule.context)
    for text in _survey_texts(survey, settings):
        fields = contact_fields(text)
        if fields is None:
            return None
        found |= fields
    templates = _template_fields(survey, settings)
    if templates is None:
        return None
    return frozenset(found | templates)


def minimised(fields: Mapping[str, Any], kept: frozenset[str] | None) -> dict[str, Any]:
    """`fields` with only the `kept` columns (all of them when `kept` is None)."""
    if kept is None:
        return dict(fields)
    return {name: value for name, value in fields.items() if name in kept}


def contact_fields(source: str) -> set[str] | None:
    """The `contact.X` / `contact['X']` a text template or expression reads; None when it
    uses `contact` whole. Text that parses as neither reads nothing."""
    if "contact" not in source:
        return set()
    found: set[str] = set()
    for text in (source, "{{ (" + source + ") }}"):
        try:
            tree = _PARSER.parse(text)
        except jinja2.TemplateSyntaxError:
            continue
        fields = _fields_in(tree)
        if fields is None:
            return None
        found |= fields
    return found


#: Mapping methods: `contact.get('x')` reads x; the others read every column.
_WHOLE = frozenset({"items", "keys", "values", "copy", "__iter__"})


def _fields_in(tree: nodes.Template) -> set[str] | None:
    fields: set[str] = set()
    reads = 0
    gets: dict[int, str | None] = {}
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Getattr) and call.node.attr == "get":
            first = call.args[0] if call.args else None
            gets[id(call.node)] = _constant_text(first)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node  # type: ignore[attr-defined]  # both node types have it
        if not (isinstance(target, nodes.Name) and target.name == "contact"):
            continue
        if isinstance(node, nodes.Getattr):
            if node.attr in _WHOLE:
                return None
            name = gets.get(id(node), node.attr)
        else:
            name = _constant_text(node.arg) if isinstance(node, nodes.Getitem) else None
        if name is None:
            return None  # contact[some_variable], contact.get(some_variable)
        fields.add(name)
        reads += 1
    names = sum(1 for n in tree.find_all(nodes.Name) if n.name == "contact" and n.ctx == "load")
    return fields if names == reads else None


def _constant_text(node: nodes.Node | None) -> str | None:
    """The text of a string literal node, else None."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    return None


def _survey_texts(survey: Survey, settings: Settings) -> Iterator[str]:
    """Every string of the survey and of the project's policy (templates, expressions)."""
    # The audience block (filter, segments, sampling) is evaluated at planning time,
    # from the source: nothing of it needs the ledger.
    yield from _strings(survey.model_dump(mode="python", by_alias=True, exclude={"audience"}))
    policy = load_policy(settings.project_dir)
    if policy is not None:
        yield from _strings(policy.model_dump(mode="python"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _template_fields(survey: Survey, settings: Settings) -> set[str] | None:
    """What the invitation's template files (every locale, every file they pull in) read."""
    env = email_environment(settings.project_dir)
    invitation = survey.invitation
    names: list[str] = []
    steps = (0, 1) if invitation.reminder is not None else (0,)
    for locale in invitation.locales:
        for step in steps:
            template = message_template(env, invitation.template, step)
            try:
                found = find_template_set(
                    env, template, locale, subject_override=invitation.subject is not None
                )
            except CxopsError:
                return None  # the wave fails on its own; keep everything meanwhile
            names += [name for name in (found.subject, found.html, found.txt) if name]
    return _files_fields(env, names)


def _files_fields(env: jinja2.Environment, names: Iterable[str]) -> set[str] | None:
    found: set[str] = set()
    seen: set[str] = set()
    queue = list(names)
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            source = env.loader.get_source(env, name)[0] if env.loader else ""
            tree = env.parse(source)
        except (jinja2.TemplateError, OSError):
            return None
        fields = _fields_in(tree)
        if fields is None:
            return None
        found |= fields
        for referenced in meta.find_referenced_templates(tree):
            if referenced is None:
                return None  # a dynamic include: anything could be read
            queue.append(referenced)
    return found
