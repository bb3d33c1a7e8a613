"""The sender's display name shown in invitations (the same for every recipient).

The survey, question and interview texts, which depend on the recipient's locale, are
built by `cxops.messages.survey_texts`.
"""

from __future__ import annotations

from email.utils import parseaddr


def display_name(from_header: str) -> str:
    """'Acme Research <research@acme.example>' -> 'Acme Research' (else the address)."""
    name, address = parseaddr(from_header)
    return name or address
