"""Postcodes for tests: ONSPD-format text, the shipped demo file, and a local stand-in for a
self-hosted postcodes.io (a real HTTP server on 127.0.0.1, answering as postcodes.io does)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from sqlmodel import Session

from placement.services.postcode_directory import DEMO_POSTCODES, LoadResult, load_postcode_file

# The ONSPD columns Placement reads, in the directory's order, with columns it ignores.
ONSPD_HEADER = '"pcd","pcd2","pcds","dointr","doterm","oscty","lat","long","ctry"'


def onspd_row(
    postcode: str, lat: float | str, lon: float | str, *, doterm: str = "", intro: str = "198001"
) -> str:
    """One row as the directory writes it: pcd (7 characters), pcd2 (8), pcds."""
    outward, inward = postcode.split()
    pcd = outward.ljust(4)[: 7 - len(inward)] + inward if len(outward) < 4 else outward + inward
    pcd2 = f"{outward.ljust(4)} {inward}"
    return f'"{pcd}","{pcd2}","{postcode}","{intro}","{doterm}","E99999999",{lat},{lon},"E92000001"'


def onspd_text(*rows: str) -> str:
    return "\r\n".join([ONSPD_HEADER, *rows]) + "\r\n"


def load_demo_postcodes(session: Session) -> LoadResult:
    """The postcodes the demo and these tests use, from the file the code ships."""
    return load_postcode_file(session=session, path=DEMO_POSTCODES)


@dataclass
class StandIn:
    """What the stand-in knows and how it misbehaves; `url` is its base URL."""

    postcodes: dict[str, tuple[float, float]] = field(default_factory=dict)
    outcodes: dict[str, tuple[float, float]] = field(default_factory=dict)
    delay: float = 0.0
    broken: bool = False
    url: str = ""
    requests: list[str] = field(default_factory=list)


@contextmanager
def postcodes_io_stand_in(**kw: Any) -> Iterator[StandIn]:
    """A local HTTP server answering `GET /postcodes/{pc}` and `GET /outcodes/{oc}` with
    postcodes.io's JSON, on a random port; stopped afterwards."""
    state = StandIn(**kw)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests.append(self.path)
            if state.delay:
                time.sleep(state.delay)
            if state.broken:
                self._send(500, {"status": 500, "error": "Internal server error"})
                return
            parts = [unquote(p) for p in self.path.strip("/").split("/")]
            if len(parts) == 2 and parts[0] == "postcodes":
                key = parts[1].upper().replace(" ", "")
                known = {k.replace(" ", ""): (k, v) for k, v in state.postcodes.items()}
                if key in known:
                    name, (lat, lon) = known[key]
                    result = {"postcode": name, "latitude": lat, "longitude": lon}
                    self._send(200, {"status": 200, "result": result})
                    return
                self._send(404, {"status": 404, "error": "Postcode not found"})
                return
            if len(parts) == 2 and parts[0] == "outcodes":
                if parts[1].upper() in state.outcodes:
                    lat, lon = state.outcodes[parts[1].upper()]
                    result = {"outcode": parts[1].upper(), "latitude": lat, "longitude": lon}
                    self._send(200, {"status": 200, "result": result})
                    return
                self._send(404, {"status": 404, "error": "Outcode not found"})
                return
            self._send(404, {"status": 404, "error": "Resource not found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
