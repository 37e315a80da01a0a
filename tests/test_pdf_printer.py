"""The long-lived PDF printer (benchmark.reporting.pdf_printer): one headless Chromium over the DevTools pipe prints
PDF after PDF as the one-shot `--print-to-pdf` does; a dead or hung Chromium is replaced; nothing outlives close().

Needs Debian's `chromium` (skipped, with the reason, where it is not installed); pages are read with pypdf.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import process_alive

from benchmark import config, temp_folders
from benchmark.reporting import exports
from benchmark.reporting.parent_watch import descendants
from benchmark.reporting.pdf_printer import PdfPrinter

pypdf = pytest.importorskip("pypdf")
needs_chromium = pytest.mark.skipif(
    exports.find_chromium() is None,
    reason="headless Chromium not installed (Debian package `chromium`: apt-get install -y chromium)",
)
LETTER = (612, 792)  # points: 8.5 x 11 in, the paper of `chromium --print-to-pdf`


def _page(tmp_path: Path, name: str, body: str, style: str = "") -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def printer():
    """One printer (one Chromium) for the tests of what it prints and how it recovers, as a batch worker keeps one
    for all its reports; the tests of its start and its end (profile folders, processes left) make their own."""
    with PdfPrinter() as shared:
        yield shared


def _pages(pdf: Path) -> list[tuple[tuple[float, float], str]]:
    """(width, height) in points and the text of every page."""
    reader = pypdf.PdfReader(pdf)
    return [((float(p.mediabox.width), float(p.mediabox.height)), p.extract_text()) for p in reader.pages]


PROFILE = temp_folders.prefix(exports.PROFILE_KIND)  # the start of a Chromium profile folder's name


def _ended_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_only_profiles_of_ended_processes_of_this_user_are_removed(tmp_path):
    """temp_folders.remove_left removes this tool's Chromium profile folders that no running process owns, and nothing
    else: not a running process's, not another user's, not a file or a link of that name, not other folders."""
    ended = _ended_pid()
    prefix = PROFILE

    def folder(name: str) -> Path:
        path = tmp_path / name
        (path / "profile").mkdir(parents=True)
        (path / "stderr.log").write_text("log")
        return path

    left = [folder(f"{prefix}{ended}-abc"), folder(f"{prefix}{ended}-def")]
    kept = [
        folder(f"{prefix}{os.getpid()}-ghi"),  # this process runs
        folder(f"{prefix}1-jkl"),  # process 1 runs
        folder(f"{prefix}x{ended}-mno"),  # not the pattern
        folder(f"{prefix}abc"),  # the name tempfile gave before this rule: no process to ask
        folder(f"other-{ended}-pqr"),
    ]
    (tmp_path / f"{prefix}{ended}-file").write_text("a file")
    target = folder("target")
    (tmp_path / f"{prefix}{ended}-link").symlink_to(target, target_is_directory=True)
    kept += [tmp_path / f"{prefix}{ended}-file", tmp_path / f"{prefix}{ended}-link", target]
    if os.getuid() == 0:  # root can give a folder to another user
        foreign = folder(f"{prefix}{ended}-stu")
        os.chown(foreign, 54321, 54321)
        kept.append(foreign)
    assert sorted(temp_folders.remove_left(exports.PROFILE_KIND, tmp_path)) == sorted(left)
    assert not any(path.exists() for path in left)
    assert all(path.exists() for path in kept) and (target / "stderr.log").read_text() == "log"
    assert temp_folders.remove_left(exports.PROFILE_KIND, tmp_path) == []


def test_a_process_removes_its_own_folders_of_every_kind_and_nothing_else(tmp_path):
    """temp_folders.remove_own, what a batch worker does before it ends when its batch died: this process's folders
    of any kind go; another process's, a file or a link of that name, another name stay."""
    me, other = os.getpid(), _ended_pid()
    mine = [tmp_path / f"paybench-chromium-{me}-a", tmp_path / f"paybench-kernel-{me}-b"]
    kept = [tmp_path / f"paybench-chromium-{other}-c", tmp_path / f"paybench-kernel-{me}0-d", tmp_path / f"x-{me}-e"]
    for path in mine + kept:
        (path / "inside").mkdir(parents=True)
    (tmp_path / f"paybench-kernel-{me}-file").write_text("a file")
    (tmp_path / f"paybench-kernel-{me}-link").symlink_to(kept[0], target_is_directory=True)
    assert sorted(temp_folders.remove_own(folder=tmp_path)) == sorted(mine)
    assert not any(path.exists() for path in mine) and all(path.exists() for path in kept)
    assert (tmp_path / f"paybench-kernel-{me}-file").is_file() and (tmp_path / f"paybench-kernel-{me}-link").exists()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:  # it has exited meanwhile
        return ""


@needs_chromium
def test_prints_pdfs_one_after_the_other_in_one_chromium_and_no_process_is_left_after_close(tmp_path, monkeypatch):
    """One printer prints two PDFs in one Chromium; close() ends that Chromium and every process it started and
    removes its profile. (One test, one Chromium: each started costs ~1 s of CPU.)"""
    others = {pid for pid in descendants(os.getpid()) if "chromium" in _cmdline(pid)}  # the module printer's, if any
    first = _page(tmp_path, "first", "<h1>Benchmark of CPT 44320</h1><p>Median 1,525.00</p>")
    breaks = "".join(f"<p style='break-after: page'>Page {n} of the second file</p>" for n in (1, 2, 3))
    second = _page(tmp_path, "second", breaks)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    left = temp / f"{PROFILE}{_ended_pid()}-x1"  # a profile a process killed with SIGKILL left
    (left / "profile").mkdir(parents=True)
    with PdfPrinter() as printer:
        assert printer.pid is None  # nothing is started before the first PDF
        assert printer.print_pdf(first, tmp_path / "first.pdf") == tmp_path / "first.pdf"
        chromium = printer.pid
        assert not left.exists()  # removed when the printer made its own
        assert [p.name.startswith(f"{PROFILE}{os.getpid()}-") for p in temp.iterdir()] == [True]
        printer.print_pdf(second, tmp_path / "second.pdf")
        assert printer.pid == chromium  # the same Chromium printed both
        started = [printer.pid, *descendants(printer.pid)]
        assert len(started) > 2  # the browser and its helpers (zygote, renderer, ...)
    assert printer.pid is None  # closed on leaving the block
    deadline = time.monotonic() + 10
    while any(map(process_alive, started)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in started if process_alive(pid)] == []
    assert [pid for pid in descendants(os.getpid()) if "chromium" in _cmdline(pid) and pid not in others] == []
    assert list(temp.iterdir()) == []  # its own profile removed with Chromium
    one = _pages(tmp_path / "first.pdf")
    assert [size for size, _ in one] == [LETTER]
    assert "Benchmark of CPT 44320" in one[0][1] and "Median 1,525.00" in one[0][1]
    two = _pages(tmp_path / "second.pdf")
    assert [size for size, _ in two] == [LETTER] * 3
    assert [f"Page {n} of the second file" in text for n, (_, text) in enumerate(two, start=1)] == [True] * 3
    assert "44320" not in " ".join(text for _, text in two)


@needs_chromium
def test_same_pages_as_the_one_shot_print_to_pdf(tmp_path, printer):
    # the page's CSS paper size wins (preferCSSPageSize), backgrounds print, no header or footer line (no date, no URL)
    html = _page(
        tmp_path,
        "sized",
        "<div style='background:#123456;color:white'>Tagged landscape page</div>"
        "<p style='break-before: page'>Second page</p>",
        style="@page { size: 6in 4in; margin: 0.5in }",
    )
    exports.print_pdf(html, tmp_path / "one_shot.pdf")
    printer.print_pdf(html, tmp_path / "pipe.pdf")
    pipe, one_shot = _pages(tmp_path / "pipe.pdf"), _pages(tmp_path / "one_shot.pdf")
    assert [size for size, _ in pipe] == [(432, 288), (432, 288)]  # 6 x 4 in
    assert pipe == one_shot
    assert "file://" not in pipe[0][1] and "sized.html" not in pipe[0][1]
    assert b"/StructTreeRoot" in (tmp_path / "pipe.pdf").read_bytes()  # tagged, as --print-to-pdf makes it


@needs_chromium
def test_a_chromium_killed_between_prints_is_replaced(tmp_path, printer):
    html = _page(tmp_path, "page", "<p>After a crash</p>")
    printer.print_pdf(html, tmp_path / "before.pdf")
    killed = printer.pid
    os.kill(killed, signal.SIGKILL)
    printer.print_pdf(html, tmp_path / "after.pdf")
    assert printer.pid not in (None, killed)
    assert "After a crash" in _pages(tmp_path / "after.pdf")[0][1]


@needs_chromium
def test_a_page_that_cannot_be_loaded_is_an_error_and_chromium_stays(tmp_path, printer):
    html = _page(tmp_path, "page", "<p>fine</p>")
    printer.print_pdf(html, tmp_path / "fine.pdf")
    chromium = printer.pid
    with pytest.raises(exports.ExportError, match="ERR_FILE_NOT_FOUND"):
        printer.print_pdf(tmp_path / "missing.html", tmp_path / "missing.pdf")
    assert not (tmp_path / "missing.pdf").exists()
    printer.print_pdf(html, tmp_path / "again.pdf")
    assert printer.pid == chromium


def test_without_chromium_the_note_of_the_one_shot_path(tmp_path, monkeypatch):
    monkeypatch.setenv(exports.CHROMIUM_ENV, "")
    html = _page(tmp_path, "page", "<p>x</p>")
    with PdfPrinter() as printer:
        with pytest.raises(exports.ExportError) as raised:
            printer.print_pdf(html, tmp_path / "page.pdf")
        assert printer.pid is None
    assert str(raised.value) == exports.NO_CHROMIUM_NOTE
    assert not (tmp_path / "page.pdf").exists()


def test_a_chromium_that_exits_at_once_is_tried_twice_then_an_error(tmp_path, monkeypatch):
    counter = tmp_path / "starts"
    fake = tmp_path / "fake-chromium"
    fake.write_text(f"#!/bin/sh\necho started >> {counter}\necho 'cannot open display' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv(exports.CHROMIUM_ENV, str(fake))
    with PdfPrinter() as printer, pytest.raises(exports.ExportError, match="exited with status 1: cannot open display"):
        printer.print_pdf(_page(tmp_path, "page", "<p>x</p>"), tmp_path / "page.pdf")
    assert counter.read_text().splitlines() == ["started", "started"]
    assert not (tmp_path / "page.pdf").exists()


def test_a_hung_chromium_is_killed_after_the_timeout_and_replaced_once_and_nothing_of_it_is_left(tmp_path, monkeypatch):
    """A Chromium that never answers is killed after the timeout and replaced once. What it started goes with it: its
    helper is orphaned at once (no longer below it, as the helpers of a Chromium that crashed) and would write to the
    profile 0.3 s after the browser dies, after the kill; both profiles are removed and no process is left."""
    pids, profiles = tmp_path / "pids", tmp_path / "profiles"
    fake = tmp_path / "hung-chromium"  # reads nothing from its pipe and never answers
    fake.write_text(
        "#!/bin/sh\n"
        'for arg; do case "$arg" in --user-data-dir=*) profile="${arg#--user-data-dir=}";; esac; done\n'
        f'echo $$ >> {pids}\necho "$profile" >> {profiles}\n'
        'browser=$$\n( ( while kill -0 $browser 2>/dev/null; do sleep 0.05; done; sleep 0.3; mkdir -p "$profile/late" ) & )\n'
        "exec sleep 60\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv(exports.CHROMIUM_ENV, str(fake))
    started = time.monotonic()
    with PdfPrinter(timeout=0.5) as printer, pytest.raises(exports.ExportError, match="did not finish within 0.5 s"):
        printer.print_pdf(_page(tmp_path, "page", "<p>x</p>"), tmp_path / "page.pdf")
    assert 1.0 <= time.monotonic() - started < 30  # the timeout twice: the first Chromium and the one replacing it
    hung = [int(pid) for pid in pids.read_text().split()]
    assert len(hung) == 2 and not any(map(process_alive, hung))
    time.sleep(0.6)  # past the time the helpers would write
    folders = [Path(line).parent for line in profiles.read_text().splitlines()]
    assert len(folders) == 2 and not [folder for folder in folders if folder.exists()]


# --------------------------------------------------------------------------------------------- batch workers
_WORKERS = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    from benchmark.reporting import batch_worker, runner

    def work(html, pdf):
        batch_worker._worker_printer.print_pdf(Path(html), Path(pdf))
        # the HTML exporter, never built in this worker: built once in the fork server (batch_preload), or 0
        prepared = runner.html_exporter.cache_info().currsize
        return os.getpid(), os.getppid(), batch_worker._worker_printer.pid, prepared

    def two_pdfs(pool, html, out, ending):
        first = pool.submit(work, html, str(out / f"{ending}-1.pdf")).result()
        second = pool.submit(work, html, str(out / f"{ending}-2.pdf")).result()
        (out / f"{ending}.pids").write_text(" ".join(map(str, [*first[:3], second[2], first[3]])))

    if __name__ == "__main__":
        html, out = sys.argv[1], Path(sys.argv[2])
        with batch_worker.worker_pool(1) as pool:  # the batch's pool: workers forked by a fork server
            two_pdfs(pool, html, out, "exit")
        (out / "exit.done").write_text("1")  # the pool has ended: its worker exited
        with batch_worker.worker_pool(1) as pool:  # another pool, ended by a kill -9 of this process
            two_pdfs(pool, html, out, "kill")
            time.sleep(120)
    """
)


def _wait_for(path: Path, parent: subprocess.Popen) -> list[int]:
    """The numbers the batch process wrote to ``path`` (waiting for them, while it runs)."""
    deadline = time.monotonic() + 120
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        assert parent.poll() is None
        time.sleep(0.1)
    return [int(word) for word in path.read_text().split()]


def _worker_ended(tmp_path: Path, ending: str, started: list[int]) -> None:
    """The worker of the pool that ended (``exit``) or was killed (``kill``) and the processes ``started`` with it
    have ended, its second PDF is printed, and nothing of the worker is left in the temporary folder (its Chromium
    profile)."""
    deadline = time.monotonic() + 30
    while any(map(process_alive, started)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in started if process_alive(pid)] == [], ending
    assert "worker" in _pages(tmp_path / f"{ending}-2.pdf")[0][1]
    assert list(Path(tempfile.gettempdir()).glob(f"paybench-*-{started[0]}-*")) == []


@needs_chromium
def test_a_batch_worker_keeps_one_chromium_and_ends_it(tmp_path):
    """One batch process, two pools of one worker: the first ends as a batch does, the second is killed with the
    batch (kill -9, no handler runs). Each worker prints its two PDFs in one Chromium, and when its pool ends or its
    batch is killed, the worker, its Chromium (every process of it) and its profile folder are gone; the fork server
    too, once the batch is killed. (One batch process for both: each costs seconds of CPU to start.)"""
    script = tmp_path / "workers.py"
    script.write_text(_WORKERS)
    html = _page(tmp_path, "page", "<p>worker</p>")
    parent = subprocess.Popen([sys.executable, str(script), str(html), str(tmp_path)], cwd=config.PROJECT_ROOT)
    try:
        worker, server, chromium, again, prepared = _wait_for(tmp_path / "exit.pids", parent)
        assert again == chromium  # one Chromium for the worker's two PDFs
        assert prepared == 1  # the worker was forked with what the fork server loaded (a failed preload is silent)
        assert server != parent.pid and server in descendants(parent.pid)  # the fork server, the batch's child
        started = [worker, chromium, *descendants(chromium)]
        _wait_for(tmp_path / "exit.done", parent)
        _worker_ended(tmp_path, "exit", started)

        worker, same_server, chromium, again, prepared = _wait_for(tmp_path / "kill.pids", parent)
        assert again == chromium and prepared == 1 and same_server == server
        started = [worker, server, chromium, *descendants(chromium)]
        parent.kill()  # kill -9 of the batch: its worker stops and takes Chromium along
        assert parent.wait(60) == -signal.SIGKILL
        _worker_ended(tmp_path, "kill", started)
    finally:
        parent.kill()


@needs_chromium
def test_pdfs_printed_one_after_another_show_only_their_own_page(tmp_path, printer):
    """The tab is reused from one PDF to the next: each PDF is its own page, sized by its own CSS, never the one
    before (the same file twice in a row included)."""
    alpha = _page(tmp_path, "alpha", "<p>Alpha page</p>", "@page { size: A4 landscape; }")
    beta = _page(tmp_path, "beta", "<p>Beta page</p>")
    for name, html in [("a1", alpha), ("a2", alpha), ("b", beta), ("a3", alpha)]:
        printer.print_pdf(html, tmp_path / f"{name}.pdf")
    a4_landscape = (841.89, 595.28)  # points: 297 x 210 mm
    for name, own, other, size in [
        ("a1", "Alpha", "Beta", a4_landscape),
        ("a2", "Alpha", "Beta", a4_landscape),
        ("b", "Beta", "Alpha", LETTER),
        ("a3", "Alpha", "Beta", a4_landscape),
    ]:
        pages = _pages(tmp_path / f"{name}.pdf")
        assert len(pages) == 1
        (width, height), text = pages[0]
        assert own in text and other not in text
        assert abs(width - size[0]) < 1 and abs(height - size[1]) < 1
