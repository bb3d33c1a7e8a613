"""A stand-in's `http.server` serving on 127.0.0.1 in a thread for a `with` block: the
start and the orderly stop the SendGrid, HubSpot and chat stand-ins share."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import HTTPServer


@contextmanager
def serving(httpd: HTTPServer, name: str) -> Iterator[str]:
    """`httpd` (already bound) answering in a daemon thread until the block ends; its
    base URL. Shut down, closed and its thread joined on the way out."""
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
