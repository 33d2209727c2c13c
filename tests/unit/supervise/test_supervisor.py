"""The supervisor's run in gunicorn's master (``reap_all=False``): the child starts in the
folder asked for, the master is left in its own, even one that was deleted, and a stop
that gunicorn queued first starts no child."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from appservice_gunicorn.supervise import supervisor


@pytest.fixture
def back_home() -> Iterator[None]:
    home = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield
    finally:
        os.fchdir(home)
        os.close(home)


def test_the_child_runs_in_the_folder_and_the_master_stays_in_its_own(
    tmp_path: Path, back_home: None
) -> None:
    master, app = tmp_path / "master", tmp_path / "app"
    master.mkdir()
    app.mkdir()
    os.chdir(master)
    result = supervisor.run(["/bin/sh", "-c", "pwd > where"], {}, app, reap_all=False)
    assert result.status == 0
    assert (app / "where").read_text().strip() == str(app)
    assert Path.cwd() == master


def test_a_deleted_working_folder_does_not_stop_the_child(tmp_path: Path, back_home: None) -> None:
    gone, app = tmp_path / "gone", tmp_path / "app"
    gone.mkdir()
    app.mkdir()
    os.chdir(gone)
    gone.rmdir()
    result = supervisor.run(["/bin/sh", "-c", "pwd > where"], {}, app, reap_all=False)
    assert result.status == 0
    assert (app / "where").read_text().strip() == str(app)
    assert os.stat(".").st_nlink == 0  # still in the deleted folder, as before the call


def test_a_stop_gunicorn_queued_first_starts_no_child(tmp_path: Path) -> None:
    result = supervisor.run(
        ["/bin/sh", "-c", "touch started"], {}, tmp_path, reap_all=False, stopping=lambda: True
    )
    assert result == (128 + signal.SIGTERM, signal.SIGTERM, ())
    assert not (tmp_path / "started").exists()
