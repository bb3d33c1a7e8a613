"""Changes between periods: a change called up or down never shows an end on zero."""

from __future__ import annotations

from cxops.analysis.change import needed_digits, share_change
from cxops.analysis.html import change_text, interval


def test_a_change_called_up_keeps_the_digits_its_lower_end_needs() -> None:
    """`share_change(2, 80, 1, 5)` has a lower end of 0.0007 points: it was shown as
    "▲ +17.5 [+0.00, +59.99]", an interval that seems to touch zero."""
    change = share_change(2, 80, 1, 5)
    assert change.verdict == "up" and change.ci is not None and 0 < change.ci[0] < 0.005
    figure = change.figure()
    assert figure.ci is not None and figure.ci[0] is not None and figure.ci[0] > 0
    assert "[+0.00," not in interval(figure, "%")
    shown = str(change_text(figure, "%"))
    assert "+0.0007" in shown and "+0.00," not in shown


def test_needed_digits() -> None:
    assert needed_digits(12.345) == 2
    assert needed_digits(0.0007) == 4
    assert needed_digits(-0.004) == 3
    assert needed_digits(0.0) == 2
