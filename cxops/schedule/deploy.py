"""`cxops deploy`: the project's `prefect.yaml`, written from its surveys.

The generated deployments sit between two marker comments inside the file's
`deployments:` list; everything outside the marks (header, pull steps, your own
deployments) is kept byte for byte. Writing is a pure function of the surveys and
the file's current text, so a second run changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from cxops.errors import ConfigError
from cxops.spec.models import Survey

BEGIN = (
    "  # >>> cxops deploy: generated from surveys/ by `cxops deploy` (edit the surveys, not this)"
)
END = "  # <<< cxops deploy"
ENTRYPOINTS = "cxops.schedule.entrypoints"
WORK_POOL = "cxops"
#: How often the loop flows run (docs/commands.md, `deploy`: follow-ups every 15 min,
#: due sends every minute, reminders hourly).
FOLLOWUPS_SECONDS = 900
REMINDERS_SECONDS = 3600
#: Due sends (reminders, send windows, quota rounds, held rows) leave within a minute.
SEND_DUE_SECONDS = 60
DIGEST_CRON = "0 8 * * *"
#: Each survey's report: Monday 07:00 in the survey's time zone, before the week's digests.
REPORT_CRON = "0 7 * * MON"
REPORT_FLOW = "report_flow"

_DEPLOYMENTS_KEY = re.compile(r"^deployments:[ \t]*(?P<rest>[^#\n]*?)[ \t]*(#.*)?$", re.M)


@dataclass(frozen=True, slots=True)
class DeployResult:
    path: Path
    changed: bool
    names: tuple[str, ...]


def wave_deployment(survey: Survey, project_dir: Path) -> dict[str, Any]:
    """The deployment of one survey's wave flow, with the survey's schedule."""
    source = survey.source_path
    where = (
        source.relative_to(project_dir).as_posix()
        if source and source.is_relative_to(project_dir)
        else survey.id
    )
    deployment: dict[str, Any] = {
        "name": survey.id,
        "description": f"One invitation wave of {survey.name!r} ({where}).",
        "entrypoint": f"{ENTRYPOINTS}:survey_wave",
        "parameters": {"survey": survey.id},
        "tags": ["cxops", f"survey:{survey.id}", f"kind:{survey.kind}"],
        "schedules": survey_schedules(survey),
        "work_pool": {"name": WORK_POOL},
    }
    return deployment


def survey_schedules(survey: Survey) -> list[dict[str, Any]]:
    schedule = survey.schedule
    if schedule is None:
        return []
    if schedule.cron:
        return [{"cron": schedule.cron, "timezone": schedule.timezone}]
    assert schedule.interval is not None
    return [{"interval": int(schedule.interval.approx_timedelta().total_seconds())}]


def loop_deployments(
    surveys: Sequence[Survey], has_flow: Callable[[str], bool]
) -> list[dict[str, Any]]:
    """Follow-ups, escalations, due sends, reminders, digests, the hourly warehouse sync
    and CRM push, the every-minute webhooks: one deployment per flow that exists."""
    timezones = sorted({survey.timezone for survey in surveys} | {"UTC"})
    wanted: list[tuple[str, str, str, list[dict[str, Any]]]] = [
        (
            "followups",
            "followups_flow",
            "New answers to follow-up tasks, webhooks and overdue escalations.",
            [{"interval": FOLLOWUPS_SECONDS}],
        ),
        (
            "send-due",
            "send_due_flow",
            "Every due invitation and reminder of every survey (rows that waited).",
            [{"interval": SEND_DUE_SECONDS}],
        ),
        (
            "reminders",
            "remind_flow",
            "Reminders to invitees who have not answered yet.",
            [{"interval": REMINDERS_SECONDS}],
        ),
        (
            "digest",
            "digest_flow",
            "Each assignee's digest of open tasks, at 08:00 in every time zone the surveys use.",
            [
                {"cron": DIGEST_CRON, "timezone": zone, "parameters": {"timezone": zone}}
                for zone in timezones
            ],
        ),
    ]
    loops = [
        {
            "name": name,
            "description": description,
            "entrypoint": f"{ENTRYPOINTS}:{function}",
            "tags": ["cxops"],
            "schedules": schedules,
            "work_pool": {"name": WORK_POOL},
        }
        for name, function, description, schedules in wanted
        if has_flow(function)
    ]
    if has_flow("sync_flow"):
        from cxops.sync.project import sync_deployment  # SQLAlchemy and dlt: only here

        loops.append(sync_deployment(ENTRYPOINTS, WORK_POOL))
    if has_flow("webhooks_flow"):
        from cxops.webhooks.run import webhooks_deployment  # httpx: only here

        loops.append(webhooks_deployment(ENTRYPOINTS, WORK_POOL))
    if has_flow("crm_push_flow"):
        from cxops.crm.project import crm_deployment  # SQLAlchemy and httpx: only here

        loops.append(crm_deployment(ENTRYPOINTS, WORK_POOL))
    return loops


def report_deployment(survey: Survey) -> dict[str, Any]:
    """The weekly report of one survey: its figures published as Prefect artifacts."""
    return {
        "name": f"report-{survey.id}",
        "description": f"The weekly report of {survey.name!r}, published as artifacts.",
        "entrypoint": f"{ENTRYPOINTS}:{REPORT_FLOW}",
        "parameters": {"survey": survey.id},
        "tags": ["cxops", f"survey:{survey.id}", "report"],
        "schedules": [{"cron": REPORT_CRON, "timezone": survey.timezone}],
        "work_pool": {"name": WORK_POOL},
    }


def desired_deployments(
    surveys: Sequence[Survey], project_dir: Path, has_flow: Callable[[str], bool]
) -> list[dict[str, Any]]:
    ordered = sorted(surveys, key=lambda s: s.id)
    waves = [wave_deployment(survey, project_dir) for survey in ordered]
    reports = [report_deployment(survey) for survey in ordered] if has_flow(REPORT_FLOW) else []
    return waves + loop_deployments(surveys, has_flow) + reports


def render_block(deployments: Iterable[dict[str, Any]]) -> str:
    """The marked block of generated deployments, indented as items of `deployments:`."""
    lines = [BEGIN]
    for deployment in deployments:
        text = yaml.safe_dump(
            [deployment], sort_keys=False, default_flow_style=None, width=1000, allow_unicode=True
        )
        lines += ["  " + line if line else line for line in text.rstrip("\n").split("\n")]
    lines.append(END)
    return "\n".join(lines) + "\n"


def new_file(project_name: str, block: str) -> str:
    prefect_version = _prefect_version()
    return (
        "# Prefect deployments of this cxops project.\n"
        "# `cxops deploy` rewrites the block between the `cxops deploy` marks from surveys/;\n"
        "# everything else in this file is yours and is kept. On a Prefect server:\n"
        "#   prefect work-pool create cxops --type process\n"
        "#   prefect --no-prompt deploy --all      # from this directory: workers run the flows here\n"
        "#   prefect worker start --pool cxops\n"
        f"name: {project_name}\n"
        f"prefect-version: {prefect_version}\n"
        "\n"
        "deployments:\n" + block
    )


def merge(existing: str | None, block: str, project_name: str, path: Path) -> str:
    """The file with `block` in place of the old generated block (or added to `deployments:`)."""
    if existing is None:
        return new_file(project_name, block)
    lines = existing.splitlines(keepends=True)
    begin = [i for i, line in enumerate(lines) if line.rstrip("\n") == BEGIN]
    end = [i for i, line in enumerate(lines) if line.rstrip("\n") == END]
    if begin or end:
        if len(begin) != 1 or len(end) != 1 or end[0] < begin[0]:
            raise ConfigError(
                f"{path}: expected one `# >>> cxops deploy` line and one `# <<< cxops deploy` "
                "line after it; fix or delete them and run `cxops deploy` again"
            )
        return "".join(lines[: begin[0]]) + block + "".join(lines[end[0] + 1 :])
    match = _DEPLOYMENTS_KEY.search(existing)
    if match is None:
        separator = "" if existing.endswith("\n") or not existing else "\n"
        return existing + separator + "\ndeployments:\n" + block
    if match["rest"] not in ("", "[]"):
        line = existing.count("\n", 0, match.start()) + 1
        raise ConfigError(
            f"{path}:{line}: expected `deployments:` followed by a block list, found "
            f"{match['rest']!r}; write the deployments one per `- name:` item"
        )
    head = existing[: match.start()] + "deployments:"
    tail = existing[match.end() :]
    return head + "\n" + block + tail.removeprefix("\n")


def hand_written_names(text: str, path: Path) -> list[tuple[str, int]]:
    """(name, line) of each deployment outside the generated block."""
    try:
        document = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if document is None or not isinstance(document, yaml.MappingNode):
        raise ConfigError(f"{path}: expected a mapping with a `deployments:` list")
    found = []
    for key, value in document.value:
        if key.value != "deployments" or not isinstance(value, yaml.SequenceNode):
            continue
        for item in value.value:
            if isinstance(item, yaml.MappingNode):
                for field, content in item.value:
                    if field.value == "name" and isinstance(content, yaml.ScalarNode):
                        found.append((str(content.value), item.start_mark.line + 1))
    return found


def _without_block(text: str) -> str:
    lines = text.splitlines(keepends=True)
    begin = next(i for i, line in enumerate(lines) if line.rstrip("\n") == BEGIN)
    end = next(i for i, line in enumerate(lines) if line.rstrip("\n") == END)
    return "".join(lines[:begin] + lines[end + 1 :])


def updated_text(
    existing: str | None,
    surveys: Sequence[Survey],
    project_dir: Path,
    path: Path,
    has_flow: Callable[[str], bool],
) -> tuple[str, list[str]]:
    """The new text of `prefect.yaml` and the generated deployment names."""
    deployments = desired_deployments(surveys, project_dir, has_flow)
    text = merge(existing, render_block(deployments), project_dir.name or "cxops", path)
    generated = {deployment["name"] for deployment in deployments}
    for name, line in hand_written_names(_without_block(text), path):
        if name in generated:
            raise ConfigError(
                f"{path}:{line}: deployment {name!r} is written by hand and also generated by "
                "`cxops deploy`; rename or delete the hand-written one"
            )
    parsed = yaml.safe_load(text)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("deployments"), list):
        raise ConfigError(f"{path}: expected a mapping with a `deployments:` list")
    return text, [deployment["name"] for deployment in deployments]


def _prefect_version() -> str:
    from importlib.metadata import version

    return version("prefect")


def entrypoint_exists(function: str) -> bool:
    """True when `cxops.schedule.entrypoints` exports a flow called `function` (its `__all__`).

    Read from the module's source, not imported: `cxops deploy` stays fast (no Prefect);
    a test imports every entrypoint the repository's prefect.yaml names.
    """
    import ast
    import importlib.util

    spec = importlib.util.find_spec(ENTRYPOINTS)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return function in ast.literal_eval(node.value)
    return False


def deploy_project(
    project_dir: Path,
    surveys_path: Path,
    *,
    check: bool = False,
    has_flow: Callable[[str], bool] = entrypoint_exists,
) -> DeployResult:
    """Write (or with `check`, only compare) the project's `prefect.yaml`."""
    from cxops.spec import load_surveys

    path = project_dir / "prefect.yaml"
    surveys = load_surveys(surveys_path, project_dir=project_dir) if surveys_path.is_dir() else []
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    text, names = updated_text(existing, surveys, project_dir, path, has_flow)
    changed = text != existing
    if changed and not check:
        path.write_text(text, encoding="utf-8")
    return DeployResult(path=path, changed=changed, names=tuple(names))
