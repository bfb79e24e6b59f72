"""The fake API server: one real HTTP server on 127.0.0.1, a path prefix per platform, a log of every request."""
from __future__ import annotations

import csv
import json
import threading
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeRequest:
    method: str
    path: str  # below the platform's prefix, e.g. "/v24.0/17841400000000001/media"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> object:
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value.split(" ", 1)[1] if value.lower().startswith(("bearer ", "oauth ")) else None


@dataclass
class FakeResponse:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON body (a bulk operation's JSONL file)


class FakePlatform(Protocol):
    prefix: str  # "/instagram"

    def handle(self, request: FakeRequest) -> FakeResponse: ...


class SampleWorld:
    """The platforms' truth: a sample landing dir (`influence sample` output). `day` is the platform's "today", the
    landing date whose files it serves; tests and the demo move it forward day by day."""

    def __init__(self, landing_dir: Path, day: date):
        self.landing_dir = landing_dir
        self.day = day

    def path(self, source: str, name: str, day: date | None = None) -> Path:
        return self.landing_dir / source / (day or self.day).isoformat() / name

    def ndjson(self, source: str, name: str, day: date | None = None) -> list[dict]:
        path = self.path(source, name, day)
        if not path.exists():
            return []
        records = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a truncated line is a defect of the export file, not something a platform serves
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def csv(self, source: str, name: str, day: date | None = None) -> list[dict[str, str]]:
        path = self.path(source, name, day)
        if not path.exists():
            return []
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def days(self, source: str) -> list[date]:
        return sorted(date.fromisoformat(p.name) for p in (self.landing_dir / source).glob("????-??-??"))


@dataclass
class LoggedRequest:
    platform: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int


class FakeApiServer:
    """Serves each platform under its prefix: `server.base_url("/instagram")` is what INFLUENCE_INSTAGRAM_API_BASE_URL
    points at. Use as a context manager; `requests` lists what was asked, for tests to assert on."""

    def __init__(self, platforms: list[FakePlatform]):
        self.platforms = {p.prefix: p for p in platforms}
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-api", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def base_url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.port}{prefix}"

    def start(self) -> FakeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def dispatch(self, request: FakeRequest) -> tuple[str, FakeResponse]:
        for prefix, platform in self.platforms.items():
            if request.path == prefix or request.path.startswith(prefix + "/"):
                request.path = request.path[len(prefix):] or "/"
                return prefix, platform.handle(request)
        return "", FakeResponse(404, {"error": f"no fake platform serves {request.path}"})

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits ~40 ms for the client's delayed
            # ACK, which made a pull of a few hundred requests take seconds.
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:  # the request log is `server.requests`, not stderr
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = FakeRequest(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                                      {k.lower(): v for k, v in self.headers.items()},
                                      self.rfile.read(length) if length else b"")
                try:
                    prefix, response = server.dispatch(request)
                except Exception as exc:  # a bug in a fake must show in the test, as a 500 with its message
                    prefix, response = "", FakeResponse(500, {"error": f"fake server: {type(exc).__name__}: {exc}"})
                with server._lock:
                    server.requests.append(LoggedRequest(prefix, request.method, request.path, request.query,
                                                         request.headers, response.status))
                payload = response.raw if response.raw is not None else (
                    b"" if response.body is None else json.dumps(response.body).encode())
                self.send_response(response.status)
                headers = {"content-type": "application/json", **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
