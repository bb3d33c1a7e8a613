"""Rendering invitations: one message per recipient, or one per group of look-alikes.

`render_one` is the reference: the templates rendered with the recipient's own
context. `render_groups` renders once per group of recipients whose messages differ
only in values the templates output whole (see `cxops.messages.shapes`); those values
are markers in the shared rendering and each recipient carries marker -> value
substitutions, so `MessageGroup.expand()` gives exactly what `render_one` gives.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import escape

from cxops.errors import TemplateError
from cxops.expr import Evaluator
from cxops.messages.env import TemplateSet, email_environment, find_template_set, one_line
from cxops.messages.links import LinkMaker, Links, unsubscribe_headers
from cxops.messages.locales import format_date, resolve_locale
from cxops.messages.shapes import (
    HTML,
    RAW,
    Path,
    Shape,
    Unfreezable,
    analyse,
    freeze,
    lookup,
    replaced,
)
from cxops.messages.survey_texts import SurveyTexts
from cxops.messages.types import MessageGroup, OutgoingMessage, Recipient
from cxops.settings import Settings
from cxops.spec.models import Survey

#: The names a message template sees.
CONTEXT_NAMES = (
    "contact",
    "survey",
    "question",
    "links",
    "interview",
    "expires_at",
    "expires_on",
    "locale",
    "segment",
    "step",
    "sender",
)
_PARTS = ("subject", "html", "txt")
_SUBSTITUTE = ("\0substitute",)
_MISSING = object()


@dataclass(frozen=True, slots=True)
class SendView:
    """What the renderer needs of one send (a ledger row, or a contact in a preview)."""

    send_id: str
    email: str
    contact_key: str
    segment: str
    #: The contact's own locale (None: the `locale` field of `contact`, if any).
    locale: str | None
    contact: Mapping[str, Any]
    #: 0 for the invitation, N for reminder N.
    step: int
    #: When the answer and honeypot links stop working.
    expires_at: datetime


@dataclass(slots=True)
class _Prepared:
    send: SendView
    templates: TemplateSet
    context: dict[str, Any]
    recipient: Recipient


class _Batch:
    """What the sends of one `render_groups` call share, per expiry and locale.

    Keyed by the identity of `expires_at` (equal datetimes may differ in fold or
    zone); each entry holds its `expires_at`, so the id is not reused meanwhile.
    """

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[tuple[int, str], tuple[datetime, str, LinkMaker]] = {}

    def for_expiry(
        self, expires_at: datetime, locale: str
    ) -> tuple[str, LinkMaker] | tuple[None, None]:
        known = self._known.get((id(expires_at), locale))
        if known is not None and known[0] is expires_at:
            return known[1], known[2]
        return None, None

    def remember(
        self, expires_at: datetime, locale: str, expires_on: str, link_maker: LinkMaker
    ) -> None:
        self._known[(id(expires_at), locale)] = (expires_at, expires_on, link_maker)


class InvitationRenderer:
    """Renders one survey's invitations; compiled templates and analyses are cached."""

    def __init__(self, survey: Survey, settings: Settings, *, wave_id: str | None = None):
        self.survey = survey
        self.settings = settings
        self.wave_id = wave_id
        self.env = email_environment(settings.project_dir)
        self._evaluator = Evaluator(settings.clock(), settings.holidays)
        self._timezone = ZoneInfo(survey.timezone)
        # Survey, question and interview texts in each recipient's locale (customer side).
        self._texts = SurveyTexts(survey)
        self._sender = _display_name(survey.invitation.from_)
        self._sets: dict[str, TemplateSet] = {}
        self._locales: dict[str | None, str] = {}
        self._shapes: dict[TemplateSet, Shape] = {}
        self._compiled: dict[str, jinja2.Template] = {}

    # -- what a recipient gets ---------------------------------------------------------

    def locale_for(self, send: SendView) -> str:
        """The contact's locale resolved against the survey's `invitation.locales`."""
        requested = send.locale if send.locale else send.contact.get("locale")
        text = str(requested) if requested is not None else None
        locale = self._locales.get(text)
        if locale is None:
            if len(self._locales) >= 4096:
                self._locales.clear()
            locale = self._locales[text] = resolve_locale(text, self.survey.invitation.locales)
        return locale

    def template_set(self, locale: str) -> TemplateSet:
        """The template files used for `locale` (locale, then language, then default)."""
        if locale not in self._sets:
            self._sets[locale] = find_template_set(
                self.env,
                self.survey.invitation.template,
                locale,
                subject_override=self.survey.invitation.subject is not None,
            )
        return self._sets[locale]

    def context_for(self, send: SendView, links: Links, locale: str) -> dict[str, Any]:
        """The template context of one recipient."""
        return self._context(send, links, locale, self._expires_on(send.expires_at, locale))

    def _expires_on(self, expires_at: datetime, locale: str) -> str:
        return format_date(expires_at.astimezone(self._timezone).date(), locale)

    def _context(
        self, send: SendView, links: Links, locale: str, expires_on: str
    ) -> dict[str, Any]:
        # The environment is immutable (ImmutableSandboxedEnvironment): templates cannot
        # change these dicts, so recipients share them; a shared object is also equal
        # for the whole batch without comparing it (see `render_groups`).
        contact = send.contact
        survey = self._texts.survey_context(locale)
        question = self._texts.question_context(locale)
        if question is not None and not self._texts.question_text_fixed(locale):
            question = dict(question)
            question["text"] = self._evaluator.render(
                question["text"],
                {"contact": contact, "survey": survey, "segment": send.segment},
                where=f"questions.{question['id']}.text",
            )
        return {
            "contact": contact,
            "survey": survey,
            "question": question,
            "links": links.as_dict(),
            "interview": self._texts.interview_context(locale),
            "expires_at": send.expires_at,
            "expires_on": expires_on,
            "locale": locale,
            "segment": send.segment,
            "step": send.step,
            "sender": self._sender,
        }

    # -- rendering ---------------------------------------------------------------------

    def render_one(self, send: SendView) -> OutgoingMessage:
        """The reference rendering of one recipient's message."""
        prepared = self._prepare(send, self.settings.clock(), self.settings.signing_key())
        subject, html, text = self._render(
            prepared.templates, dict.fromkeys(_PARTS, prepared.context)
        )
        recipient = prepared.recipient
        return OutgoingMessage(
            send_id=send.send_id,
            to_email=send.email,
            to_name=recipient.name,
            from_header=self.survey.invitation.from_,
            reply_to=self.survey.invitation.reply_to,
            subject=subject,
            html=html,
            text=text,
            headers=recipient.headers,
            custom_args=recipient.custom_args,
        )

    def render_groups(self, sends: Sequence[SendView]) -> list[MessageGroup]:
        """Every send's message, rendered once per group of look-alike messages."""
        now = self.settings.clock()
        key = self.settings.signing_key()
        batch = _Batch()
        buckets: dict[TemplateSet, list[_Prepared]] = {}
        for send in sends:
            prepared = self._prepare(send, now, key, batch)
            buckets.setdefault(prepared.templates, []).append(prepared)
        groups: list[MessageGroup] = []
        for templates, members in buckets.items():
            shape = self.shape(templates)
            if not shape.safe:
                groups.extend(self._alone(member) for member in members)
                continue
            by_key: dict[Any, list[tuple[_Prepared, dict[Path, Any]]]] = {}
            # Recipients share objects (question.scale): freeze each of them once. A new
            # memo per template set: nothing renders while it is in use.
            frozen: dict[int, tuple[Any, Any]] = {}
            # Paths under a context entry that is one object for every member (survey,
            # sender, the expiry date…) hold one value: no need to key or substitute them.
            live = _live_paths(shape, _shared_roots(members))
            for member in members:
                try:
                    group_key, values = _group_key(self.env, shape, member.context, frozen, live)
                except Unfreezable:
                    groups.append(self._alone(member))
                    continue
                by_key.setdefault(group_key, []).append((member, values))
            for entries in by_key.values():
                groups.extend(self._render_shared(shape, entries))
        return groups

    def shape(self, templates: TemplateSet) -> Shape:
        """The (cached) analysis of a template set."""
        if templates not in self._shapes:
            parts: dict[str, str | tuple[str, str]] = {"html": templates.html, "txt": templates.txt}
            override = self.survey.invitation.subject
            parts["subject"] = ("source", override) if override is not None else templates.subject  # type: ignore[assignment]
            self._shapes[templates] = analyse(self.env, parts, CONTEXT_NAMES)
        return self._shapes[templates]

    # -- internals ---------------------------------------------------------------------

    def _prepare(
        self,
        send: SendView,
        now: datetime,
        key: bytes,
        batch: _Batch | None = None,
    ) -> _Prepared:
        locale = self.locale_for(send)
        batch = batch or _Batch()
        expires_at = send.expires_at
        expires_on, link_maker = batch.for_expiry(expires_at, locale)
        if expires_on is None:
            expires_on = self._expires_on(expires_at, locale)
            link_maker = LinkMaker(self.settings, expires_at, key=key, now=now)
            batch.remember(expires_at, locale, expires_on, link_maker)
        links = link_maker.links(send.send_id)
        custom_args = {"survey": self.survey.id, "send_id": send.send_id}
        if self.wave_id is not None:
            custom_args["wave"] = self.wave_id
        name = send.contact.get("name")
        recipient = Recipient(
            send_id=send.send_id,
            email=send.email,
            name=None if name is None or str(name).strip() == "" else str(name),
            substitutions={},
            headers=unsubscribe_headers(links, self.settings.unsubscribe_mailto),
            custom_args=custom_args,
        )
        return _Prepared(
            send,
            self.template_set(locale),
            self._context(send, links, locale, expires_on),
            recipient,
        )

    def _template(self, templates: TemplateSet, part: str) -> jinja2.Template:
        name = getattr(templates, part)
        source = self.survey.invitation.subject if name is None else None
        cache_key = name if name is not None else "\0subject"
        if cache_key not in self._compiled:
            try:
                self._compiled[cache_key] = (
                    self.env.from_string(source or "")
                    if name is None
                    else self.env.get_template(name)
                )
            except jinja2.TemplateError as exc:
                raise TemplateError(f"{name or 'invitation.subject'}: {exc}") from None
        return self._compiled[cache_key]

    def _render(
        self, templates: TemplateSet, contexts: Mapping[str, Mapping[str, Any]]
    ) -> tuple[str, str, str]:
        rendered = []
        for part in _PARTS:
            template = self._template(templates, part)
            try:
                rendered.append(template.render(contexts[part]))
            except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
                where = getattr(templates, part) or "invitation.subject"
                raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None
        return one_line(rendered[0]), rendered[1], rendered[2]

    def _alone(self, member: _Prepared) -> MessageGroup:
        subject, html, text = self._render(member.templates, dict.fromkeys(_PARTS, member.context))
        return self._group(subject, html, text, [member.recipient])

    def _group(
        self, subject: str, html: str, text: str, recipients: list[Recipient]
    ) -> MessageGroup:
        return MessageGroup(
            from_header=self.survey.invitation.from_,
            reply_to=self.survey.invitation.reply_to,
            subject=subject,
            html=html,
            text=text,
            recipients=recipients,
        )

    def _render_shared(
        self, shape: Shape, entries: list[tuple[_Prepared, dict[Path, Any]]]
    ) -> list[MessageGroup]:
        first, first_values = entries[0]
        # path, its modes, and each entry's printed value (in `entries` order).
        varying: list[tuple[Path, tuple[str, ...], list[tuple[str, ...]]]] = []
        for path, first_value in first_values.items():
            modes = _in_order(shape.modes[path])
            if _all_print_alike(path, first_value, modes, entries):
                continue
            varying.append((path, modes, [_printed(values[path], modes) for _, values in entries]))
        members = [member for member, _ in entries]
        if not varying:
            subject, html, text = self._render(
                first.templates, dict.fromkeys(_PARTS, first.context)
            )
            return [self._group(subject, html, text, [m.recipient for m in members])]

        prefix = _marker_prefix(
            text for _, _, printed in varying for texts in printed for text in texts
        )
        markers = {
            HTML: [f"{prefix}h{i}%" for i in range(len(varying))],
            RAW: [f"{prefix}t{i}%" for i in range(len(varying))],
        }
        contexts: dict[str, Mapping[str, Any]] = {}
        for part in _PARTS:
            context = first.context
            for index, (path, _, _) in enumerate(varying):
                mode = shape.opaque.get(part, {}).get(path)
                if mode is not None:
                    context = replaced(context, path, markers[mode][index])
            contexts[part] = context
        subject, html, text = self._render(first.templates, contexts)
        if not _markers_intact(prefix, (subject, html, text)):
            return [self._alone(member) for member in members]

        # The printed texts are in sorted mode order: (escaped, raw), (escaped,) or (raw,),
        # so the escaped text is the first and the raw text the last.
        plan = [
            (
                printed,
                markers[HTML][index] if HTML in modes else None,
                markers[RAW][index] if RAW in modes else None,
            )
            for index, (_, modes, printed) in enumerate(varying)
        ]
        recipients = []
        for position, (member, _) in enumerate(entries):
            substitutions: dict[str, str] = {}
            for printed, html_marker, raw_marker in plan:
                texts = printed[position]
                if html_marker is not None:
                    substitutions[html_marker] = texts[0]
                if raw_marker is not None:
                    substitutions[raw_marker] = texts[-1]
            base = member.recipient
            recipients.append(
                Recipient(
                    base.send_id,
                    base.email,
                    base.name,
                    substitutions,
                    base.headers,
                    base.custom_args,
                )
            )
        return [self._group(subject, html, text, recipients)]


# -- grouping helpers ------------------------------------------------------------------


def _shared_roots(members: Sequence[_Prepared]) -> frozenset[str]:
    """The context entries that are one and the same object in every member's context."""
    first = members[0].context
    return frozenset(
        name
        for name, value in first.items()
        if all(member.context.get(name, _MISSING) is value for member in members)
    )


def _live_paths(shape: Shape, shared: frozenset[str]) -> tuple[list[Path], list[Path]]:
    """The keyed and opaque paths of `shape` that are not under a shared root."""
    return (
        [path for path in shape.keyed_paths if path[0] not in shared],
        [path for path in shape.opaque_paths if path[0] not in shared],
    )


def _group_key(
    env: jinja2.Environment,
    shape: Shape,
    context: Mapping[str, Any],
    frozen: dict[int, tuple[Any, Any]] | None = None,
    live: tuple[list[Path], list[Path]] | None = None,
) -> tuple[tuple[Any, ...], dict[Path, Any]]:
    """(what must be equal to share a rendering, the values that can be substituted).

    `frozen` memoizes `freeze` of containers by identity (id -> (value, frozen)); the
    caller must not let the containers change while it uses the memo. `live` limits
    the keyed and opaque paths looked at (the others hold one value for everyone).
    """
    keyed_paths, opaque_paths = live or (shape.keyed_paths, shape.opaque_paths)
    steps = shape.steps
    parts: list[Any] = []
    for path in keyed_paths:
        value, _ = lookup(env, context, path, steps[path])
        parts.append(_freeze(value, frozen))
    in_subject = shape.opaque.get("subject", {})
    values: dict[Path, Any] = {}
    for path in opaque_paths:
        value, plain = lookup(env, context, path, steps[path])
        if not plain or (path in in_subject and not _subject_safe(value)):
            parts.append(_freeze(value, frozen))
        else:
            parts.append(_SUBSTITUTE)
            values[path] = value
    return tuple(parts), values


def _freeze(value: Any, memo: dict[int, tuple[Any, Any]] | None) -> Any:
    """`freeze(value)`, memoized by identity for lists, tuples and dicts."""
    kind = type(value)
    if kind is str:
        return value
    if memo is None or not (kind is list or kind is tuple or kind is dict):
        return freeze(value)
    known = memo.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    result = freeze(value)
    memo[id(value)] = (value, result)  # holding `value` keeps its id from being reused
    return result


def _all_print_alike(
    path: Path,
    first: Any,
    modes: tuple[str, ...],
    entries: Sequence[tuple[Any, Mapping[Path, Any]]],
) -> bool:
    """True when every entry's value at `path` prints as the first entry's does."""
    printed = _printed(first, modes)
    first_is_str = type(first) is str
    for _, values in entries:
        value = values[path]
        # The same object, or an equal plain str, prints the same: no need to print it.
        if value is first or (first_is_str and type(value) is str and value == first):
            continue
        if _printed(value, modes) != printed:
            return False
    return True


def _subject_safe(value: Any) -> bool:
    """True when one-lining the subject commutes with substituting this value."""
    text = str(value)
    return bool(text) and one_line(text) == text


def _in_order(modes: frozenset[str] | set[str]) -> tuple[str, ...]:
    """Modes in the order `_printed` prints them: (html, raw), (html,) or (raw,)."""
    return tuple(sorted(modes))


def _printed(value: Any, modes: tuple[str, ...]) -> tuple[str, ...]:
    """The value as Jinja prints it, escaped (html) and raw, for `modes` (`_in_order`)."""
    text = value if type(value) is str else str(value)
    if len(modes) == 1:
        return (str(escape(value)),) if modes[0] == HTML else (text,)
    return tuple(str(escape(value)) if mode == HTML else text for mode in modes)


def _marker_prefix(texts: Any) -> str:
    """A random marker prefix that none of the substituted values contains."""
    # The prefix has no NUL: it is in one of the values exactly when it is in their join.
    joined = "\0".join(texts)
    while True:
        prefix = "%cx" + secrets.token_hex(4)
        if prefix not in joined:
            return prefix


def _markers_intact(prefix: str, rendered: Sequence[str]) -> bool:
    """True when the prefix occurs in the shared rendering only as whole markers."""
    pattern = re.compile(re.escape(prefix) + r"[ht]\d+%")
    return all(text.count(prefix) == len(pattern.findall(text)) for text in rendered)


# -- constant parts of the context --------------------------------------------------------


def _display_name(from_header: str) -> str:
    """'Acme Research <research@acme.example>' -> 'Acme Research' (else the address)."""
    name, address = parseaddr(from_header)
    return name or address
