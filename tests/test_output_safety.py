"""Outputs never destroy what the tool did not write; a report is at its path at every moment of a swap.

Issue 16, Must 1: ``--out`` on a folder that is not a previous output is refused (exit 2) unless ``--overwrite``
(which moves it aside, never deletes it); ``--out .`` never touches the current folder; the swap is one rename of a
link; a report folder of an older version (a real folder with ``run.json``) is migrated.
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from benchmark import cli
from benchmark.errors import ParameterError
from benchmark.reporting import output_folder as of
from benchmark.reporting.batch import load_batch, run_batch
from benchmark.reporting.kernel import SharedKernel


def _version(target, text):
    """A finished run's folder beside ``target`` holding report.html = ``text`` (what runner.run_report stages)."""
    folder = of.staging_folder(target)
    (folder / "report.html").write_text(text)
    return folder


def _no_kernel(*args, **kwargs):
    raise AssertionError("a report kernel was started for an --out that is refused")


def test_a_folder_the_tool_did_not_write_is_refused_and_kept(tmp_path, capsys, monkeypatch):
    precious = tmp_path / "d"
    precious.mkdir()
    (precious / "precious.txt").write_text("x")
    # refused before any kernel starts: the exit status of a bad parameter, the file untouched
    monkeypatch.setattr(SharedKernel, "start", _no_kernel)
    assert cli.main(["report", "44320", "--out", str(precious)]) == 2
    assert "not a previous report" in capsys.readouterr().err
    assert (precious / "precious.txt").read_text() == "x"
    with pytest.raises(ParameterError):
        of.publish(_version(precious, "r1"), precious, of.REPORT_MARKER)
    assert (precious / "precious.txt").read_text() == "x" and not precious.is_symlink()


def test_overwrite_moves_the_folder_aside_never_deletes_it(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "precious.txt").write_text("x")
    of.publish(_version(target, "r1"), target, of.REPORT_MARKER, overwrite=True)
    assert (target / "report.html").read_text() == "r1"
    kept = [p for p in tmp_path.glob(".d.replaced-*") if (p / "precious.txt").is_file()]
    assert len(kept) == 1 and (kept[0] / "precious.txt").read_text() == "x"


@pytest.mark.parametrize("out", [".", ".."])
def test_the_current_folder_is_never_an_output(tmp_path, monkeypatch, capsys, out):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    monkeypatch.setattr(SharedKernel, "start", _no_kernel)  # refused before a kernel starts
    for extra in ([], ["--overwrite"]):
        assert cli.main(["report", "44320", "--out", out, *extra]) == 2
        assert "current folder" in capsys.readouterr().err
    assert (work / "notes.txt").read_text() == "mine" and work.is_dir() and not work.is_symlink()


def test_a_report_replaces_only_its_own_previous_output(tmp_path):
    target = tmp_path / "44320"
    of.publish(_version(target, "r1"), target, of.REPORT_MARKER)
    assert target.is_symlink() and (target / "report.html").read_text() == "r1"
    assert (target / of.REPORT_MARKER).is_file()
    neighbour = tmp_path / "44310"
    neighbour.mkdir()
    (neighbour / "keep.txt").write_text("k")
    of.publish(_version(target, "r2"), target, of.REPORT_MARKER)
    assert (target / "report.html").read_text() == "r2"
    assert len(of.content_folders(target)) == 1, "the previous version's folder is deleted"
    assert (neighbour / "keep.txt").read_text() == "k"


def test_a_report_folder_of_an_older_version_is_migrated(tmp_path):
    target = tmp_path / "44320"
    target.mkdir()
    (target / "run.json").write_text(json.dumps({"fingerprint": "abc", "outputs": []}))
    (target / "report.html").write_text("old")
    of.publish(_version(target, "new"), target, of.REPORT_MARKER)
    assert target.is_symlink() and (target / "report.html").read_text() == "new"
    assert not list(tmp_path.glob(".44320.link-*")) and not list(tmp_path.glob(".44320.replaced-*"))


def test_there_is_a_report_at_the_path_at_every_moment_of_the_swaps(tmp_path):
    target = tmp_path / "44320"
    of.publish(_version(target, "r0"), target, of.REPORT_MARKER)
    missing: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                (target / "report.html").read_text()
            except OSError as error:
                missing.append(repr(error))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for n in range(1, 60):
            of.publish(_version(target, f"r{n}"), target, of.REPORT_MARKER)
    finally:
        done.set()
        watcher.join()
    assert missing == []
    assert (target / "report.html").read_text() == "r59"
    assert len(of.content_folders(target)) == 1


def test_a_user_link_is_replaced_only_with_overwrite_and_its_target_survives(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.txt").write_text("d")
    target = tmp_path / "44320"
    os.symlink(elsewhere, target)
    with pytest.raises(ParameterError):
        of.check_output_folder(target, of.REPORT_MARKER)
    of.publish(_version(target, "r1"), target, of.REPORT_MARKER, overwrite=True)
    assert (target / "report.html").read_text() == "r1"
    assert (elsewhere / "data.txt").read_text() == "d"


def test_batch_root_that_is_not_a_batch_output_is_refused_before_anything_runs(tmp_path, capsys):
    batch_file = tmp_path / "b.yaml"
    batch_file.write_text('reports:\n  - code: "44320"\n')
    root = tmp_path / "root"
    root.mkdir()
    (root / "precious.txt").write_text("x")
    assert cli.main(["batch", str(batch_file), "--out", str(root)]) == 2
    assert "not a previous batch output root" in capsys.readouterr().err
    assert sorted(p.name for p in root.iterdir()) == ["precious.txt"]
    with pytest.raises(ParameterError):
        run_batch(load_batch(batch_file), root)


def test_batch_into_a_folder_that_cannot_be_written_exits_2_before_starting(tmp_path, capsys):
    batch_file = tmp_path / "b.yaml"
    batch_file.write_text('reports:\n  - code: "44320"\n')
    blocker = tmp_path / "blocker"  # a file where a folder should be: unwritable even for root, unlike chmod
    blocker.write_text("")
    assert cli.main(["batch", str(batch_file), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert "cannot write the batch output" in err and len(err.strip().splitlines()) == 1


def test_ingest_into_a_folder_that_is_not_a_store_is_refused(tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "precious.txt").write_text("x")
    assert cli.main(["ingest", str(tmp_path / "nothing-here.json"), "--out", str(folder)]) == 2
    assert "not an empty folder or a rate store" in capsys.readouterr().err
    from benchmark.store import rate_store as st

    with pytest.raises(ParameterError, match="not an empty folder or a rate store"):
        st.open_store(folder, create=True)
    assert sorted(p.name for p in folder.iterdir()) == ["precious.txt"]


def test_the_folder_of_a_killed_run_is_deleted_by_the_next_publish_a_running_ones_is_not(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "44320"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = _version(target, "half")
    (killed / of.OWNER).write_text(dead.stdout.strip())  # its writer is gone
    running = _version(target, "in progress")  # owned by this (live) process
    of.publish(_version(target, "r1"), target, of.REPORT_MARKER)
    assert not killed.exists() and running.exists()
    assert not (target / of.OWNER).exists(), "a published report carries no owner file"


def test_a_report_into_a_folder_that_cannot_be_written_exits_2_before_starting(tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(SharedKernel, "start", lambda self, *args: started.append(args))
    blocker = tmp_path / "blocker"  # a file where the parent folder should be: unwritable even for root
    blocker.write_text("")
    assert cli.main(["report", "44320", "--out", str(blocker / "deeper" / "out")]) == 2
    assert started == []  # refused before a kernel starts
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("paybench: error: ")
    assert "cannot write the report there" in err[0] and f"{blocker} is not a folder" in err[0]
    assert blocker.read_text() == "" and [p.name for p in tmp_path.iterdir()] == ["blocker"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in folders whatever their permissions")
def test_a_report_into_a_read_only_folder_exits_2_naming_it(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert cli.main(["report", "44320", "--out", str(locked / "out")]) == 2
    finally:
        locked.chmod(0o755)
    err = capsys.readouterr().err
    assert f"no permission to write in {locked}" in err and list(locked.iterdir()) == []
