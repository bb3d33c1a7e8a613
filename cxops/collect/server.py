"""Running the collector with uvicorn: our JSON access log instead of uvicorn's.

uvicorn's own access log prints the request path, and paths carry tokens, so it is
off; `cxops.collect.access` logs the route template instead.
"""

from __future__ import annotations

import logging
import sys

from fastapi import FastAPI


def configure_logging(level: int = logging.INFO) -> None:
    """JSON access lines and collector warnings to standard error (once per process)."""
    for name in ("cxops.collect", "cxops.collect.access"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "_cxops", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler._cxops = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def serve_collector(
    app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, access_log: bool = True
) -> None:
    """Serve the collector `app` (`cxops.followup.collector.create_collector`) until
    interrupted."""
    import uvicorn

    configure_logging(logging.INFO if access_log else logging.WARNING)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        server_header=False,
        log_level="info",
        backlog=4096,
    )
