"""Rendering invitations: one message per recipient, or one per group of look-alikes.

`render_one` is the reference: the templates rendered with the recipient's own
context. `render_groups` renders once per group of recipients whose messages differ
only in values the templates output whole (see `cxops.messages.shapes`); those values
are markers in the shared rendering and each recipient carries marker -> value
substitutions, so `MessageGroup.expand()` gives exactly what `render_one` gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import jinja2

from cxops.errors import TemplateError
from cxops.expr import Evaluator
from cxops.locales import format_date, resolve_locale
from cxops.messages.context import display_name
from cxops.messages.env import (
    TemplateSet,
    email_environment,
    find_template_set,
    message_template,
    one_line,
)
from cxops.messages.grouping import FreezeMemo, group_key, live_paths, share, shared_roots
from cxops.messages.links import LinkMaker, Links, unsubscribe_headers
from cxops.messages.shapes import Shape, analyse
from cxops.messages.survey_texts import SurveyTexts
from cxops.messages.types import MessageGroup, OutgoingMessage, Recipient
from cxops.messages.values import Path, Unfreezable
from cxops.sandbox import error_location
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


class RenderableSend(Protocol):
    """What the renderer reads of one send: a `SendView`, or a claimed ledger row
    (`cxops.store.claims.ClaimedSend`) as it is."""

    @property
    def send_id(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def contact_key(self) -> str: ...
    @property
    def segment(self) -> str: ...
    @property
    def locale(self) -> str | None: ...
    @property
    def contact(self) -> Mapping[str, Any]: ...
    @property
    def step(self) -> int: ...
    @property
    def expires_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class SendView:
    """A send that is not (yet) a ledger row: a contact in a preview or a dry run."""

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
    #: The invitation variant (None: the survey's invitation as it is).
    variant: str | None = None


@dataclass(slots=True)
class _Prepared:
    send: RenderableSend
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
        # Survey, question and interview texts in each recipient's locale.
        self._texts = SurveyTexts(survey)
        self._sender = display_name(survey.invitation.from_)
        self._sets: dict[tuple[str, bool], TemplateSet] = {}
        self._locales: dict[str | None, str] = {}
        self._shapes: dict[TemplateSet, Shape] = {}
        self._compiled: dict[str, jinja2.Template] = {}
        #: The invitation variant this renderer renders (None: the survey's invitation).
        self.variant: str | None = None
        self._by_variant: dict[str, InvitationRenderer] = {}

    def for_variant(self, variant: str | None) -> InvitationRenderer:
        """The renderer of invitation variant `variant` (its subject, template): this one
        for None, for an id the survey does not have, or when this one renders a variant."""
        if variant is None or self.variant is not None:
            return self
        if not any(known.id == variant for known in self.survey.invitation.variants):
            return self
        renderer = self._by_variant.get(variant)
        if renderer is None:
            renderer = InvitationRenderer(
                self.survey.for_variant(variant), self.settings, wave_id=self.wave_id
            )
            renderer.variant = variant
            self._by_variant[variant] = renderer
        return renderer

    # -- what a recipient gets ---------------------------------------------------------

    def locale_for(self, send: RenderableSend) -> str:
        """The contact's locale resolved against the survey's `invitation.locales`."""
        requested = send.locale if send.locale else send.contact.get("locale")
        text = str(requested) if requested is not None else None
        locale = self._locales.get(text)
        if locale is None:
            if len(self._locales) >= 4096:
                self._locales.clear()
            locale = self._locales[text] = resolve_locale(text, self.survey.invitation.locales)
        return locale

    def template_set(self, locale: str, step: int = 0) -> TemplateSet:
        """The template files used for `locale` (locale, then language, then default);
        a reminder (`step` > 0) uses `NAME_reminder` when there is one."""
        key = (locale, step > 0)
        if key not in self._sets:
            name = message_template(self.env, self.survey.invitation.template, step)
            self._sets[key] = find_template_set(
                self.env,
                name,
                locale,
                subject_override=self.survey.invitation.subject is not None,
            )
        return self._sets[key]

    def _expires_on(self, expires_at: datetime, locale: str) -> str:
        return format_date(expires_at.astimezone(self._timezone).date(), locale)

    def _context(
        self, send: RenderableSend, links: Links, locale: str, expires_on: str
    ) -> dict[str, Any]:
        # The environment is immutable (ImmutableSandboxedEnvironment): templates cannot
        # change these dicts, so recipients share them; a shared object is also equal
        # for the whole batch without comparing it (see `render_groups`).
        contact = send.contact
        survey = self._texts.survey_context(locale)
        question = self._texts.question_context(locale)
        if question is not None and not self._texts.question_text_fixed(locale):
            text = question["text"]
            question = dict(question)
            question["text"] = self._evaluator.render(
                text,
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

    def render_one(self, send: RenderableSend) -> OutgoingMessage:
        """The reference rendering of one recipient's message."""
        return next(self.render_alone(send).expand())

    def render_alone(self, send: RenderableSend, *, key: bytes | None = None) -> MessageGroup:
        """One recipient's message as a group of one (no substitutions); links signed
        with `key` (default: the settings' signing key)."""
        renderer = self.for_variant(getattr(send, "variant", None))
        if renderer is not self:
            return renderer.render_alone(send, key=key)
        signing_key = self.settings.signing_key() if key is None else key
        return self._alone(self._prepare(send, self.settings.clock(), signing_key))

    def render_groups(self, sends: Sequence[RenderableSend]) -> list[MessageGroup]:
        """Every send's message, rendered once per group of look-alike messages (a
        send with an invitation variant, `variant`, by that variant's renderer)."""
        if self.variant is None and self.survey.invitation.variants:
            by_variant: dict[str | None, list[RenderableSend]] = {}
            for send in sends:
                by_variant.setdefault(getattr(send, "variant", None), []).append(send)
            if set(by_variant) != {None}:
                groups: list[MessageGroup] = []
                for variant, members in by_variant.items():
                    renderer = self.for_variant(variant)
                    groups += renderer._render_groups(members)
                return groups
        return self._render_groups(sends)

    def _render_groups(self, sends: Sequence[RenderableSend]) -> list[MessageGroup]:
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
            frozen: FreezeMemo = {}
            # Paths under a context entry that is one object for every member (survey,
            # sender, the expiry date…) hold one value: no need to key or substitute them.
            live = live_paths(shape, shared_roots([member.context for member in members]))
            for member in members:
                try:
                    members_key, values = group_key(self.env, shape, member.context, frozen, live)
                except Unfreezable:
                    groups.append(self._alone(member))
                    continue
                by_key.setdefault(members_key, []).append((member, values))
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
        send: RenderableSend,
        now: datetime,
        key: bytes,
        batch: _Batch | None = None,
    ) -> _Prepared:
        locale = self.locale_for(send)
        batch = batch or _Batch()
        expires_at = send.expires_at
        known_on, known_maker = batch.for_expiry(expires_at, locale)
        if known_on is None or known_maker is None:
            expires_on = self._expires_on(expires_at, locale)
            link_maker = LinkMaker(self.settings, expires_at, key=key, now=now)
            batch.remember(expires_at, locale, expires_on, link_maker)
        else:
            expires_on, link_maker = known_on, known_maker
        links = link_maker.links(send.send_id)
        custom_args = {"survey": self.survey.id, "send_id": send.send_id}
        if self.wave_id is not None:
            custom_args["wave"] = self.wave_id
        if self.variant is not None:
            custom_args["variant"] = self.variant
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
            self.template_set(locale, send.step),
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
                where = error_location(exc) or getattr(templates, part) or "invitation.subject"
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
        first = entries[0][0]
        members = [member for member, _ in entries]
        shared = share(shape, first.context, [values for _, values in entries], _PARTS)
        if shared is None:
            subject, html, text = self._render(
                first.templates, dict.fromkeys(_PARTS, first.context)
            )
            return [self._group(subject, html, text, [m.recipient for m in members])]
        subject, html, text = self._render(first.templates, shared.contexts)
        if not shared.intact((subject, html, text)):
            return [self._alone(member) for member in members]
        recipients = []
        for position, member in enumerate(members):
            base = member.recipient
            recipients.append(
                Recipient(
                    base.send_id,
                    base.email,
                    base.name,
                    shared.substitutions(position),
                    base.headers,
                    base.custom_args,
                )
            )
        return [self._group(subject, html, text, recipients)]
