"""Running the collector with uvicorn: our JSON access log instead of uvicorn's.

uvicorn's own access log prints the request path, and paths carry tokens, so it is
off; `cxops.collect.access` logs the route template instead. Connections get a
deadline for their request head and a full descriptor table one log line
(`cxops.collect.connections`).
"""

from __future__ import annotations

import logging
import socket
import sys

from fastapi import FastAPI

from cxops.errors import ConfigError


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


def check_can_listen(host: str, port: int) -> None:
    """ConfigError naming `--host`/`--port` when the address cannot be listened on (in use,
    not this machine's, a port out of range), before the collector announces itself."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({reason})") from None


def serve_collector(
    app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, access_log: bool = True
) -> None:
    """Serve the collector `app` (`cxops.followup.collector.create_collector`) until
    interrupted."""
    import uvicorn

    from cxops.collect.connections import HeadTimeoutProtocol

    configure_logging(logging.INFO if access_log else logging.WARNING)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        server_header=False,
        log_level="info",
        backlog=4096,
        http=HeadTimeoutProtocol,
        loop="cxops.collect.connections:collector_event_loop",
    )
