"""Complementary suppression: no figure of a small group can be worked out by subtraction.

A group under `min_n` answers shows "too few answers". But when the total is shown and
every other part of it too, total minus the others *is* the small group (the overall
CSAT distribution minus the shown segments gave the suppressed `partner` segment
exactly). As statistical offices do, a second part is then suppressed too: in each
partition of a shown total (segments, periods, the values of a cut), for the group as
a whole and for each question, the parts hidden must be none, or at least two with
answers that hold at least `min_n` answers together. The smallest shown part is
hidden until that holds; it is marked `complementary`. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from cxops.analysis.report_model import (
    Distribution,
    Figure,
    Group,
    QuestionFigures,
    WaveChange,
)


def protect(total: Group, parts: Mapping[str, Group], min_n: int) -> dict[str, Group]:
    """`parts` (a partition of `total`'s answers) with complementary suppression applied."""
    found = dict(parts)
    if total.suppressed or total.questions is None:
        return found
    hidden = {name for name, part in found.items() if part.suppressed}
    for name in _more_to_hide({name: part.n for name, part in found.items()}, hidden, min_n):
        found[name] = hide_group(found[name])
    for qid in total.questions:
        sizes: dict[str, int] = {}
        hidden_q: set[str] = set()
        for name, part in found.items():
            if part.suppressed or part.questions is None:
                sizes[name] = part.n
                hidden_q.add(name)
                continue
            question = part.questions.get(qid)
            if question is None:
                continue
            sizes[name] = question.n
            if question.n < min_n or _all_hidden(question):
                hidden_q.add(name)
        for name in _more_to_hide(sizes, hidden_q, min_n):
            found[name] = hide_question(found[name], qid)
    return found


def _more_to_hide(sizes: Mapping[str, int], hidden: set[str], min_n: int) -> list[str]:
    """The parts to hide besides `hidden`, smallest first, so that the hidden ones with
    answers are none, or two or more holding `min_n` answers together."""
    hidden = set(hidden)
    extra: list[str] = []
    while True:
        with_answers = [name for name in hidden if sizes.get(name, 0) > 0]
        held = sum(sizes.get(name, 0) for name in with_answers)
        if not with_answers or (len(with_answers) >= 2 and held >= min_n):
            return extra
        shown = sorted(
            (size, name) for name, size in sizes.items() if name not in hidden and size > 0
        )
        if not shown:
            return extra
        name = shown[0][1]
        hidden.add(name)
        extra.append(name)


def _all_hidden(question: QuestionFigures) -> bool:
    return all(figure.suppressed for figure in question.metrics.values())


def hide_group(group: Group) -> Group:
    """`group` suppressed to protect another: its size and invitations stay."""
    return Group(
        suppressed=True,
        complementary=True,
        n=group.n,
        invited=group.invited,
        complete=group.complete,
        partial=group.partial,
        response_rate=group.response_rate,
        partial_rate=group.partial_rate,
    )


def hide_question(group: Group, qid: str) -> Group:
    """`group` with question `qid`'s figures suppressed to protect another group's."""
    if group.questions is None or qid not in group.questions:
        return group
    question = group.questions[qid]
    hidden = question.model_copy(
        update={
            "complementary": True,
            "metrics": {
                name: Figure(suppressed=True, n=figure.n)
                for name, figure in question.metrics.items()
            },
            "distribution": None
            if question.distribution is None
            else Distribution(suppressed=True, n=question.distribution.n),
        }
    )
    return group.model_copy(update={"questions": {**group.questions, qid: hidden}})


def hidden_questions(group: Group) -> set[str] | None:
    """None when the whole group is hidden, else the questions hidden in it."""
    if group.suppressed or group.questions is None:
        return None
    return {qid for qid, q in group.questions.items() if q.complementary}


def protect_changes(changes: list[WaveChange], periods: Mapping[str, Group]) -> list[WaveChange]:
    """The changes between periods, suppressed where either period's figures are hidden
    (a change from a shown figure tells the other)."""
    found = []
    for change in changes:
        sides = [hidden_questions(periods[change.from_]), hidden_questions(periods[change.to])]
        questions = {}
        for qid, figures in change.questions.items():
            if any(side is None or qid in side for side in sides):
                figures = {
                    name: Figure(suppressed=True, n=f.n, n_previous=f.n_previous)
                    for name, f in figures.items()
                }
            questions[qid] = figures
        found.append(change.model_copy(update={"questions": questions}))
    return found


def same_hiding(group: Group, like: Group) -> Group:
    """`group` (a period in full) hidden as `like` (the same period's trend row) is."""
    hidden = hidden_questions(like)
    if hidden is None:
        return group if group.suppressed else hide_group(group)
    for qid in hidden:
        group = hide_question(group, qid)
    return group
