"""Messages: the Jinja environment, rendering, locales and signed links.

`render` (the renderer), `grouping` (which recipients share one rendering), `shapes`
(what a template does with its context), `values` (context lookups, markers, freezing),
`context` (the recipient-independent context), `types` (what channels get). It may
import `spec`, `expr` and `settings`; never `channels`, `store` or later layers.

The names below are imported on first use, so importing a submodule such as
`cxops.messages.types` (what channels need) loads neither Jinja nor the spec models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxops.locales import format_date, locale_chain, resolve_locale
    from cxops.messages.env import (
        TemplateSet,
        email_environment,
        find_template_set,
        one_line,
    )
    from cxops.messages.links import Links, links_for, unsubscribe_headers
    from cxops.messages.render import CONTEXT_NAMES, InvitationRenderer, RenderableSend, SendView
    from cxops.messages.shapes import Shape, analyse
    from cxops.messages.tokens import make_token, read_token
    from cxops.messages.types import (
        MessageGroup,
        OutgoingMessage,
        Recipient,
        apply_substitutions,
    )

_EXPORTS = {
    "TemplateSet": "env",
    "email_environment": "env",
    "find_template_set": "env",
    "one_line": "env",
    "Links": "links",
    "links_for": "links",
    "unsubscribe_headers": "links",
    "format_date": "cxops.locales",
    "locale_chain": "cxops.locales",
    "resolve_locale": "cxops.locales",
    "CONTEXT_NAMES": "render",
    "InvitationRenderer": "render",
    "SendView": "render",
    "RenderableSend": "render",
    "Shape": "shapes",
    "analyse": "shapes",
    "make_token": "tokens",
    "read_token": "tokens",
    "MessageGroup": "types",
    "OutgoingMessage": "types",
    "Recipient": "types",
    "apply_substitutions": "types",
}

__all__ = [
    "CONTEXT_NAMES",
    "InvitationRenderer",
    "Links",
    "MessageGroup",
    "OutgoingMessage",
    "Recipient",
    "RenderableSend",
    "SendView",
    "Shape",
    "TemplateSet",
    "analyse",
    "apply_substitutions",
    "email_environment",
    "find_template_set",
    "format_date",
    "links_for",
    "locale_chain",
    "make_token",
    "one_line",
    "read_token",
    "resolve_locale",
    "unsubscribe_headers",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cxops.messages' has no attribute {name!r}")
    path = module if module.startswith("cxops.") else f"cxops.messages.{module}"
    value = getattr(import_module(path), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
