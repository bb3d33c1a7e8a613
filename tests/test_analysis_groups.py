"""What a group of answers shows people: question texts without raw expressions."""

from __future__ import annotations

from cxops.analysis.groups import text_of


def test_a_question_text_never_shows_an_expression_raw() -> None:
    """The CSAT report printed "ticket {{ contact.ticket_id }}?"."""
    assert text_of("How did we do on ticket {{ contact.ticket_id }}?") == (
        "How did we do on ticket …?"
    )
    assert text_of({"de": "Ticket {{contact.id}}", "en": "Ticket {{ contact.id }} ok?"}) == (
        "Ticket … ok?"
    )
    assert text_of("{% if x %}A{% endif %} plain") == "…A… plain"
    assert text_of("No expression here") == "No expression here"
