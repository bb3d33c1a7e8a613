"""Deployment entrypoint: one invitation wave of a survey, by id.

The flow itself is `cxops.schedule.entrypoints:survey_wave` (what `cxops deploy` writes
into `prefect.yaml`); this module names the same flow for a project that points a
hand-written deployment at `flows/wave.py:survey_wave`.
"""

from __future__ import annotations

from cxops.schedule.entrypoints import survey_wave

__all__ = ["survey_wave"]
