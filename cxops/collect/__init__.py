"""The collector: the FastAPI app customers answer in (`create_app`), served by `cxops serve`.

`create_app` is imported on first use: the CLI's task, digest and export commands read
`cxops.collect.i18n` and the like without loading FastAPI and the collector's routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxops.collect.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from cxops.collect.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
