"""A headless-Chromium page checker for tests: opens a local page in Debian's /usr/bin/chromium and, over the DevTools
protocol (a websocket; no Playwright, no browser download), records every network request and whether it failed,
console errors and uncaught exceptions, and evaluates JavaScript in the page.

    with Chromium() as browser:
        page = browser.open(path, width=390)
        assert not page.outbound and not page.failed and not page.errors
        page.evaluate("document.body.scrollWidth")
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path(os.environ.get("INFLUENCE_CHROMIUM", "/usr/bin/chromium"))
# No sandbox: the tests run as root. The rest keeps the browser itself quiet, so that every request seen is the page's.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--remote-debugging-port=0"]
LOCAL_SCHEMES = ("file:", "data:")


class BrowserError(RuntimeError):
    pass


@dataclass
class Request:
    url: str
    failed: str | None = None  # Chromium's error text when loading failed


@dataclass
class Page:
    """One opened page: what it requested and logged while loading, and a handle to evaluate JavaScript in it."""
    browser: Chromium
    session: str
    requests: dict[str, Request] = field(default_factory=dict)  # by DevTools request id
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, error log entries

    @property
    def outbound(self) -> list[str]:
        """URLs requested that are neither file:// nor data:."""
        return [r.url for r in self.requests.values() if not r.url.startswith(LOCAL_SCHEMES)]

    @property
    def failed(self) -> list[str]:
        return [f"{r.url}: {r.failed}" for r in self.requests.values() if r.failed]

    def evaluate(self, expression: str):
        """A JavaScript expression → its value (JSON-serialisable results only); raises on a thrown exception."""
        result = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                   self.session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def resize(self, width: int, height: int = 900) -> None:
        """Lay the page out at a viewport `width` CSS pixels wide (desktop metrics: no mobile zoom-out)."""
        self.browser.send("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, self.session)


def _describe(event: dict) -> str | None:
    """A DevTools event → the error it reports, or None."""
    method, params = event["method"], event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return "console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        return "exception: " + details.get("exception", {}).get("description", details.get("text", ""))
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        return f"log: {params['entry'].get('text')} ({params['entry'].get('url', '')})"
    return None


class Chromium:
    """A headless Chromium process with a throwaway profile, driven over its browser-level DevTools websocket."""

    def __init__(self, executable: Path = CHROMIUM, timeout: float = 30):
        self.executable, self.timeout = executable, timeout
        self._pages: dict[str, Page] = {}
        self._next_id = 0

    def __enter__(self) -> Chromium:
        from websockets.sync.client import connect

        if not self.executable.exists():
            raise BrowserError(f"{self.executable} is missing (scripts/chromium.sh installs it)")
        self.profile = Path(tempfile.mkdtemp(prefix="influence-chromium-"))
        self.process = subprocess.Popen([str(self.executable), *FLAGS, f"--user-data-dir={self.profile}",
                                         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file, deadline = self.profile / "DevToolsActivePort", time.monotonic() + self.timeout
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise BrowserError(f"chromium did not open its DevTools port (exit code {self.process.poll()})")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.socket = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=self.timeout)
        return self

    def __exit__(self, *exc) -> None:
        if getattr(self, "socket", None) is not None:
            try:
                self.socket.send(json.dumps({"id": -1, "method": "Browser.close"}))
            except Exception:  # already gone: the process is stopped below either way
                pass
            self.socket.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _dispatch(self, message: dict) -> None:
        """Record a page event (request, failure, error) on the page whose session sent it."""
        page = self._pages.get(message.get("sessionId", ""))
        if page is None or "method" not in message:
            return
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            page.requests[params["requestId"]] = Request(params["request"]["url"])
        elif message["method"] == "Network.loadingFailed":
            request = page.requests.setdefault(params["requestId"], Request("?"))
            request.failed = params.get("errorText") or params.get("blockedReason") or "failed"
        elif (error := _describe(message)) is not None:
            page.errors.append(error)

    def _receive(self, timeout: float) -> dict | None:
        try:
            message = json.loads(self.socket.recv(timeout=timeout))
        except TimeoutError:
            return None
        self._dispatch(message)
        return message

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one DevTools command and return its result, recording the events that arrive meanwhile."""
        self._next_id += 1
        command = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        self.socket.send(json.dumps(command))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = self._receive(max(0.01, deadline - time.monotonic()))
            if message and message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise BrowserError(f"{method}: no answer in {self.timeout} s")

    def _wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = self._receive(max(0.01, deadline - time.monotonic()))
            if message and message.get("method") == method and message.get("sessionId") == session:
                return
        raise BrowserError(f"no {method} in {self.timeout} s")

    def _settle(self, quiet: float) -> None:
        """Take events until none has come for `quiet` seconds: late requests and errors after the load event."""
        while self._receive(quiet) is not None:
            pass

    def open(self, path: Path, width: int = 1400, height: int = 900) -> Page:
        """Load the local file `path` in a new tab `width` × `height` CSS pixels; returns the page once it fired
        its load event and went quiet."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = self._pages[session] = Page(self, session)
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", {}, session)
        page.resize(width, height)
        self.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session)
        self._wait_for("Page.loadEventFired", session)
        self._settle(0.3)
        return page
