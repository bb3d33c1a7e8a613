"""Deployment entrypoint: each assignee's daily digest of open follow-up tasks."""

from __future__ import annotations

from cxops.followup.flows import digest_flow

__all__ = ["digest_flow"]
