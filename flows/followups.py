"""Deployment entrypoint: turn new answers into follow-up tasks, escalate overdue ones."""

from __future__ import annotations

from cxops.followup.flows import followups_flow

__all__ = ["followups_flow"]
