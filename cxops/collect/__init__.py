"""The collector: the FastAPI app customers answer in (`create_app`), served by `cxops serve`."""

from __future__ import annotations

from cxops.collect.app import create_app

__all__ = ["create_app"]
