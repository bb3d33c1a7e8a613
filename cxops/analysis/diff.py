"""`cxops diff`: what a change to a survey file does, for code review.

Compares the survey file with its version at a git revision. Questions added,
removed, re-worded; ids, types, scales or options changed. A change that breaks a
trend series (a question's id, type, scale or options changed, or a scored question
removed, or the survey's kind changed) is *breaking*. Audience changes (source,
filter, segments, sample) come with the plan's counts before and after, both on
the current source.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxops.analysis.groups import SCORED, option_names, scale_of, text_of
from cxops.errors import CxopsError

if TYPE_CHECKING:
    from cxops.settings import Settings
    from cxops.spec.models import Question, Survey


class DiffError(CxopsError):
    """The old version of a survey cannot be read."""


def _question_key(question: Question) -> tuple[str, str]:
    return (question.type, text_of(question.text))


def question_changes(old: Survey, new: Survey) -> list[dict[str, Any]]:
    """One entry per question change, in the new file's order then the removed ones."""
    before = {q.id: q for q in old.questions}
    after = {q.id: q for q in new.questions}
    removed = [q for qid, q in before.items() if qid not in after]
    added = [q for qid, q in after.items() if qid not in before]
    renamed: dict[str, str] = {}
    for question in added:
        for gone in removed:
            if _question_key(gone) == _question_key(question) and gone.id not in renamed.values():
                renamed[question.id] = gone.id
                break
    changes: list[dict[str, Any]] = []
    for qid, question in after.items():
        if qid in renamed:
            changes.append(_entry(qid, "id changed", f"was {renamed[qid]!r}", breaking=True))
        elif qid not in before:
            changes.append(_entry(qid, "added", question.type, breaking=False))
        else:
            changes.extend(_compare(before[qid], question))
    for question in removed:
        if question.id in renamed.values():
            continue
        scored = question.type in SCORED
        detail = "its trend series ends" if scored else question.type
        changes.append(_entry(question.id, "removed", detail, breaking=scored))
    return changes


def _entry(qid: str, change: str, detail: str, *, breaking: bool) -> dict[str, Any]:
    return {"question": qid, "change": change, "detail": detail, "breaking": breaking}


def _compare(old: Question, new: Question) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if old.type != new.type:
        found.append(_entry(new.id, "type changed", f"{old.type} -> {new.type}", breaking=True))
        return found
    if old.type in SCORED and scale_of(old) != scale_of(new):
        (a, b), (c, d) = scale_of(old), scale_of(new)
        found.append(_entry(new.id, "scale changed", f"{a}..{b} -> {c}..{d}", breaking=True))
    if old.type in ("single", "multi") and option_names(old) != option_names(new):
        gone = [o for o in option_names(old) if o not in option_names(new)]
        new_ones = [o for o in option_names(new) if o not in option_names(old)]
        detail = "; ".join(
            part
            for part in (
                f"removed {', '.join(gone)}" if gone else "",
                f"added {', '.join(new_ones)}" if new_ones else "",
                "reordered" if not gone and not new_ones else "",
            )
            if part
        )
        found.append(_entry(new.id, "options changed", detail, breaking=bool(gone or new_ones)))
    if text_of(old.text) != text_of(new.text):
        found.append(
            _entry(
                new.id,
                "re-worded",
                f"{text_of(old.text)!r} -> {text_of(new.text)!r}",
                breaking=False,
            )
        )
    return found


def audience_changes(old: Survey, new: Survey) -> list[str]:
    """Which parts of the audience differ: source, filter, segments, sample, exclude."""
    a, b = old.audience, new.audience
    changed = [
        name
        for name in ("source", "filter", "sample", "exclude")
        if getattr(a, name) != getattr(b, name)
    ]
    for name in sorted(set(a.segments) | set(b.segments)):
        if name not in a.segments:
            changed.append(f"segment {name} added")
        elif name not in b.segments:
            changed.append(f"segment {name} removed")
        elif a.segments[name] != b.segments[name]:
            changed.append(f"segment {name} changed")
    if list(a.segments) != list(b.segments) and set(a.segments) == set(b.segments):
        changed.append("segment order changed (first match wins)")
    return changed


def variant_changes(old: Survey, new: Survey) -> list[str]:
    """Invitation variants added, ended (removed, or another won) and changed; never
    breaking: the survey's metrics are over every variant."""
    a, b = old.invitation, new.invitation
    before = {variant.id: variant for variant in a.variants}
    after = {variant.id: variant for variant in b.variants}
    changed: list[str] = []
    for name in after:
        if name not in before:
            changed.append(f"variant {name} added")
        elif before[name] != after[name]:
            changed.append(f"variant {name} changed")
    changed += [f"variant {name} ended" for name in before if name not in after]
    if b.winner is not None and b.winner != a.winner:
        changed.append(f"winner {b.winner}: the other variants end")
    elif a.split != b.split and b.winner is None:
        changed.append("split changed")
    return changed


def other_changes(old: Survey, new: Survey) -> list[str]:
    keys = ("name", "schedule", "invitation", "followup", "themes", "report", "interview")
    return [key for key in keys if getattr(old, key, None) != getattr(new, key, None)]


def compare(old: Survey, new: Survey) -> dict[str, Any]:
    """The differences of two survey models (no counts)."""
    questions = question_changes(old, new)
    kind_changed = old.kind != new.kind
    return {
        "kind": {"before": old.kind, "after": new.kind} if kind_changed else None,
        "questions": questions,
        "audience": audience_changes(old, new),
        "variants": variant_changes(old, new),
        "other": other_changes(old, new),
        "breaking": kind_changed or any(change["breaking"] for change in questions),
    }


def audience_counts(survey: Survey, settings: Settings) -> dict[str, Any]:
    """The plan's counts for `survey` on the current source (nothing sent or written)."""
    from cxops.wave.ids import WaveContext
    from cxops.wave.plan import plan_only

    plan = plan_only(WaveContext.begin(survey, settings))
    for _invitee in plan.invitees:  # the summary is tallied as the plan is read
        pass
    summary = plan.summary().as_dict()
    return {key: summary[key] for key in ("audience", "filtered_out", "eligible", "sampled")} | {
        "excluded": sum(summary["excluded"].values()),
        "by_segment": {
            name: counts.get("eligible", 0)
            for name, counts in sorted(summary["by_segment"].items())
        },
    }


def read_old_version(path: Path, revision: str, project_dir: Path) -> Survey | None:
    """The survey as it was at `revision` (None when the file did not exist there)."""
    from cxops.spec.loader import read_survey

    folder = path.resolve().parent
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        raise DiffError(f"{path}: not in a git repository (cxops diff compares with git)")
    if _git(folder, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}") is None:
        raise DiffError(f"{path}: no git revision {revision!r}")
    relative = path.resolve().relative_to(Path(top).resolve()).as_posix()
    text = _git(folder, "show", f"{revision}:{relative}", strip=False)
    if text is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(text, encoding="utf-8")
        result = read_survey(copy, project_dir, checks=False)
    if result.survey is None:
        first = result.problems[0] if result.problems else "cannot be read"
        raise DiffError(f"{relative} at {revision}: {first}")
    return result.survey


def _git(folder: Path, *args: str, strip: bool = True) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() if strip else done.stdout


def diff_against_git(name: str, revision: str, settings: Settings) -> dict[str, Any]:
    """The `cxops diff` result for survey `name` (an id or a path) against `revision`."""
    from cxops.spec import find_survey

    new = find_survey(name, settings.surveys_path, settings.project_dir)
    path = new.source_path
    if path is None:
        raise DiffError(f"survey {name}: no file to compare")
    old = read_old_version(path, revision, settings.project_dir)
    result: dict[str, Any] = {"survey": new.id, "file": str(path), "against": revision}
    if old is None:
        result |= {"new_file": True, "kind": None, "questions": [], "audience": [], "other": []}
        result["breaking"] = False
        return result
    result |= {"new_file": False, **compare(old, new)}
    if result["audience"]:
        result["counts"] = {
            "before": audience_counts(old, settings),
            "after": audience_counts(new, settings),
        }
    return result


def diff_lines(result: dict[str, Any]) -> list[str]:
    """The diff as text for the terminal or a code review comment."""
    lines = [f"survey {result['survey']} ({result['file']}) against {result['against']}"]
    if result.get("new_file"):
        return [*lines, "  a new survey file: nothing to compare"]
    if result["kind"]:
        lines.append(
            f"  BREAKING kind changed: {result['kind']['before']} -> {result['kind']['after']}"
        )
    for change in result["questions"]:
        flag = "BREAKING " if change["breaking"] else ""
        lines.append(
            f"  {flag}question {change['question']}: {change['change']} ({change['detail']})"
        )
    for item in result["audience"]:
        lines.append(f"  audience: {item}")
    counts = result.get("counts")
    if counts:
        before, after = counts["before"], counts["after"]
        for key in ("audience", "filtered_out", "excluded", "eligible", "sampled"):
            lines.append(f"    {key:<13} {before[key]:>8} -> {after[key]:<8}")
        for segment in sorted(set(before["by_segment"]) | set(after["by_segment"])):
            lines.append(
                f"    segment {segment:<12} {before['by_segment'].get(segment, 0):>4} -> "
                f"{after['by_segment'].get(segment, 0)} eligible"
            )
    for item in result.get("variants", []):
        lines.append(f"  invitation: {item} (not breaking: metrics are over every variant)")
    if result["other"]:
        lines.append("  also changed: " + ", ".join(result["other"]))
    if len(lines) == 1:
        lines.append("  no changes")
    if result["breaking"]:
        lines.append(
            "breaking: this change breaks a trend series (pass --allow-breaking to accept)"
        )
    return lines
