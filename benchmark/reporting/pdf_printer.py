"""A long-lived headless Chromium that prints PDFs, driven over the DevTools protocol on a pipe.

``report.pdf`` of a single report is printed by a Chromium started for it (:func:`~benchmark.reporting.exports.print_pdf`,
``--print-to-pdf``); a batch worker prints one PDF after another, and starting Chromium again for each costs seconds of
CPU. :class:`PdfPrinter` starts Chromium once (on its first PDF) with :data:`~benchmark.reporting.exports.CHROMIUM_FLAGS`
(no network) and ``--remote-debugging-pipe``: Chromium reads DevTools commands on its file descriptor 3 and writes
replies and events on 4, each message a JSON object ended by a NUL byte. It opens one tab, and per PDF loads the HTML
file in it, waits for that page's load event and prints it with the settings of ``--print-to-pdf
--no-pdf-header-footer`` (Letter paper, the page's CSS ``@page`` size first, backgrounds, tagged PDF, no header or
footer lines); the PDF is written atomically. The tab is kept for the next PDF (opening one costs ~0.45 s of CPU,
loading a page in it again ~0.05 s) and closed when a page fails, so the next PDF starts in a new one.

A Chromium that died or did not answer within the timeout is killed (with every process it started) and started
again for one more try; when that fails too, :class:`~benchmark.reporting.exports.ExportError` says why, in the words
of the one-shot path. :meth:`PdfPrinter.close` ends Chromium (a batch worker does so when it exits); a worker killed
outright takes it along (:mod:`benchmark.reporting.parent_watch`), and Chromium also exits when its pipe closes.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.files import atomic_write_bytes
from benchmark.reporting.exports import (
    CHROMIUM_FLAGS,
    NO_CHROMIUM_NOTE,
    ExportError,
    chromium_profile_folder,
    find_chromium,
    stderr_tail,
)
from benchmark.reporting.parent_watch import descendants, group_members

_log = logging.getLogger(__name__)

PDF_TIMEOUT = 60.0  # seconds for one PDF (a report's takes a few), Chromium's start included
CLOSE_TIMEOUT = 5.0  # seconds Chromium gets to exit after Browser.close before it is killed
KILL_WAIT_SECONDS = 2.0  # at most this long, after a kill, for its processes to end before its profile is removed
READ_FD, WRITE_FD = 3, 4  # where Chromium's --remote-debugging-pipe reads commands and writes replies
# Page.printToPDF as `chromium --headless --print-to-pdf --no-pdf-header-footer` calls it (Chromium's headless
# command handler): the protocol's defaults (Letter paper, 0.4 in margins, scale 1) otherwise.
PRINT_PARAMETERS: dict[str, Any] = {
    "displayHeaderFooter": False,
    "printBackground": True,
    "preferCSSPageSize": True,
    "generateTaggedPDF": True,
}
# Starts Chromium with the two pipe ends on descriptors 3 and 4 (subprocess passes descriptors under their own
# numbers only): a tiny Python that moves them there and then becomes Chromium (exec: same process id).
_LAUNCHER = (
    "import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
    "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])"
)
_FIRST_FREE_FD = 10  # the pipe ends are moved at or above this before the launch, out of the way of 3 and 4


class ChromiumFailed(ExportError):
    """Chromium died, or did not answer in time: the printer starts a new one (once per PDF)."""


class PageError(ExportError):
    """Chromium answered with an error for this page (e.g. the HTML file cannot be loaded): not retried."""


@dataclass
class _Browser:
    """One Chromium process and its DevTools pipe: send commands, read replies and events."""

    process: subprocess.Popen[bytes]
    commands: int  # our end of Chromium's fd 3 (we write)
    replies: int  # our end of Chromium's fd 4 (we read)
    folder: Path  # profile folder and stderr log, removed with the browser
    next_id: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # events read while waiting for a reply
    tab: tuple[str, str] | None = None  # (target id, session id) of the tab PDFs are printed in, once opened
    _buffer: bytearray = field(default_factory=bytearray)

    @classmethod
    def start(cls, chromium: str) -> _Browser:
        folder = chromium_profile_folder()
        commands_in, commands = os.pipe()  # Chromium reads commands from the first end, we write to the second
        replies, replies_out = os.pipe()  # we read replies from the first end, Chromium writes to the second
        try:
            # Chromium's ends as descriptors >= 10, so that moving them to 3 and 4 cannot overwrite one another
            theirs = [fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, _FIRST_FREE_FD) for end in (commands_in, replies_out)]
        finally:
            os.close(commands_in)
            os.close(replies_out)
        command = [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _LAUNCHER,
            *map(str, theirs),
            shutil.which(chromium) or chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={folder / 'profile'}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            with open(folder / "stderr.log", "wb") as log:
                process = subprocess.Popen(  # a session of its own: its group holds every process it starts
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    pass_fds=theirs,
                    start_new_session=True,
                )
        except BaseException:
            os.close(commands)
            os.close(replies)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            for end in theirs:
                os.close(end)
        os.set_blocking(commands, False)
        _log.debug("Chromium %d started for PDFs", process.pid)
        return cls(process, commands=commands, replies=replies, folder=folder)

    # ------------------------------------------------------------------------------------------- messages
    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None, deadline: float
    ) -> dict[str, Any]:
        """Send one command and wait for its reply (events read meanwhile are kept in :attr:`events`)."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(json.dumps(message).encode() + b"\0", deadline)
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    error = reply["error"]
                    raise PageError(f"Chromium refused {method}: {error.get('message')} ({error.get('code')})")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, match: dict[str, Any], *, session: str, deadline: float) -> dict[str, Any]:
        """The first event ``method`` of ``session`` whose parameters include ``match``."""

        def matches(event: dict[str, Any]) -> bool:
            params = event.get("params", {})
            return (
                event.get("method") == method
                and event.get("sessionId") == session
                and all(params.get(k) == v for k, v in match.items())
            )

        for index, event in enumerate(self.events):
            if matches(event):
                return self.events.pop(index)
        while not matches(event := self._receive(deadline)):
            pass
        return event

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            if not select.select([], [self.commands], [], _remaining(deadline))[1]:
                raise TimeoutError
            try:
                view = view[os.write(self.commands, view) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:  # Chromium is gone
                raise EOFError from None

    def _receive(self, deadline: float) -> dict[str, Any]:
        while (end := self._buffer.find(b"\0")) < 0:
            if not select.select([self.replies], [], [], _remaining(deadline))[0]:
                raise TimeoutError
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        message = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return json.loads(message)

    # ------------------------------------------------------------------------------------------- ending
    def stderr_tail(self) -> str:
        try:
            return stderr_tail((self.folder / "stderr.log").read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return "no message"

    def close(self) -> None:
        """Ask Chromium to exit; kill it, and what it started, when it does not; remove its profile."""
        started = descendants(self.process.pid)  # before it exits: its helpers are no longer below it then
        if self.process.poll() is None:
            try:
                self._send(json.dumps({"id": self.next_id + 1, "method": "Browser.close"}).encode() + b"\0", _after(1))
                self.process.wait(CLOSE_TIMEOUT)
            except (OSError, EOFError, TimeoutError, subprocess.TimeoutExpired):
                pass
        self.kill(started)

    def kill(self, started: list[int] | None = None) -> None:
        """Kill Chromium and every process it started (a renderer left alone could outlive it), remove its profile.

        Its process group is killed too, and the profile removed only once the group has no running process (or
        after :data:`KILL_WAIT_SECONDS`): a helper of a Chromium that crashed is no longer below it, and one still
        ending could write to the profile after it was removed, leaving a folder nobody removes."""
        started = descendants(self.process.pid) if started is None else started
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group of its session (see start)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in [self.process.pid, *started]:  # any that left the group
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.process.wait()
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while group_members(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        for descriptor in (self.commands, self.replies):
            try:
                os.close(descriptor)
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


class PdfPrinter:
    """Prints HTML files to PDF in one headless Chromium, started on the first PDF and kept until :meth:`close`.

    Safe to call from several threads (one PDF at a time). ``chromium``: the executable (default:
    :func:`~benchmark.reporting.exports.find_chromium`, looked up when Chromium is started).
    """

    def __init__(self, chromium: str | None = None, *, timeout: float = PDF_TIMEOUT) -> None:
        self.chromium = chromium
        self.timeout = timeout
        self._browser: _Browser | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The process id of the running Chromium (None before the first PDF and after :meth:`close`)."""
        return self._browser.process.pid if self._browser else None

    def start(self) -> None:
        """Start Chromium now rather than on the first PDF (a report starts it while its notebook runs). A failure
        is only logged: the first PDF then tries again and raises what it finds."""
        with self._lock:
            if self._browser is None:
                try:
                    self._start()
                except ExportError as error:
                    _log.info("Chromium not started ahead of the PDF: %s", error)

    def print_pdf(self, html_path: Path, pdf_path: Path) -> Path:
        """Print ``html_path`` to ``pdf_path`` (replaced atomically); raises :class:`ExportError` when it cannot."""
        url = Path(html_path).resolve().as_uri()
        with self._lock:
            for attempt in (1, 2):
                try:
                    data = self._print(url)
                    break
                except ChromiumFailed as error:
                    self._discard()
                    if attempt == 2:
                        raise
                    _log.info("Chromium failed printing %s (%s): starting a new one", html_path, error)
        if not data.startswith(b"%PDF-"):
            raise ExportError(f"Chromium did not write a PDF for {html_path}: it returned {data[:20]!r}")
        atomic_write_bytes(pdf_path, data)
        return pdf_path

    def close(self) -> None:
        """End Chromium (nothing when none is running); a later PDF starts a new one."""
        with self._lock:
            browser, self._browser = self._browser, None
            if browser is not None:
                browser.close()

    def __enter__(self) -> PdfPrinter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------- helpers
    def _print(self, url: str) -> bytes:
        deadline = _after(self.timeout)
        browser = self._browser or self._start()
        try:
            target, session = browser.tab or self._open_tab(browser, deadline)
            try:
                browser.events.clear()
                loading = browser.call("Page.navigate", {"url": url}, session=session, deadline=deadline)
                if loading.get("errorText"):
                    raise PageError(f"Chromium could not load {url}: {loading['errorText']}")
                browser.wait_for(
                    "Page.lifecycleEvent",
                    {"name": "load", "frameId": loading["frameId"], "loaderId": loading.get("loaderId")},
                    session=session,
                    deadline=deadline,
                )
                printed = browser.call("Page.printToPDF", PRINT_PARAMETERS, session=session, deadline=deadline)
            except PageError:  # the next PDF gets a new tab, whatever state this one is in
                browser.tab = None
                browser.call("Target.closeTarget", {"targetId": target}, deadline=deadline)
                raise
            finally:
                browser.events.clear()
        except TimeoutError:
            raise ChromiumFailed(f"Chromium did not finish within {self.timeout:g} s: printing {url}") from None
        except (EOFError, OSError, ValueError) as error:  # the pipe closed, or a reply was not JSON
            status = _exit_status(browser.process) if isinstance(error, EOFError) else None
            raise ChromiumFailed(
                f"Chromium exited with status {status}: {browser.stderr_tail()}"
                if status is not None
                else f"Chromium's DevTools pipe failed ({type(error).__name__}: {error}): printing {url}"
            ) from None
        return base64.b64decode(printed["data"])

    @staticmethod
    def _open_tab(browser: _Browser, deadline: float) -> tuple[str, str]:
        target = browser.call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
        attached = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True}, deadline=deadline)
        session = attached["sessionId"]
        browser.call("Page.enable", session=session, deadline=deadline)
        browser.call("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session, deadline=deadline)
        browser.tab = (target, session)
        return browser.tab

    def _start(self) -> _Browser:
        chromium = self.chromium or find_chromium()
        if chromium is None:
            raise ExportError(NO_CHROMIUM_NOTE)
        try:
            self._browser = _Browser.start(chromium)
        except OSError as error:
            raise ExportError(f"Chromium could not be started ({chromium}): {error}") from None
        return self._browser

    def _discard(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            browser.kill()


def _exit_status(process: subprocess.Popen[bytes]) -> int | None:
    try:
        return process.wait(CLOSE_TIMEOUT)
    except subprocess.TimeoutExpired:  # its pipe closed, but it still runs
        return None


def _after(seconds: float) -> float:
    return time.monotonic() + seconds


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
