"""The redeploy's wait as a state machine: a fake worker table, events at given times."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from appservice_gunicorn.serve.redeploy_wait import Serving, keep_serving, wait_for_new

OLD, NEW = {1, 2}, {11, 12}


@dataclass
class FakeTable:
    """Workers by pid; ``events`` run when the clock reaches their time."""

    workers: set[int] = field(default_factory=lambda: OLD | NEW)
    loaded: set[int] = field(default_factory=lambda: set(OLD))
    failed: dict[int, str] = field(default_factory=dict)
    exits: dict[int, str] = field(default_factory=dict)  # ended, not reaped yet
    events: list[tuple[float, Callable[[FakeTable], None]]] = field(default_factory=list)
    now: float = 0.0
    target: int = 2
    stop: bool = False
    spawned: list[int] = field(default_factory=list)
    next_pid: int = 100

    def read_reports(self) -> None:
        while self.events and self.events[0][0] <= self.now:
            self.events.pop(0)[1](self)

    def ended(self, pid: int) -> str | None:
        return self.exits.pop(pid, None)

    def running(self) -> set[int]:
        return set(self.workers)

    def stand_in(self, ended: int) -> int:
        self.next_pid += 1
        self.workers.add(self.next_pid)
        self.spawned.append(self.next_pid)
        return self.next_pid

    def forget(self, pid: int) -> None:
        self.workers.discard(pid)
        self.loaded.discard(pid)

    def stop_requested(self) -> bool:
        return self.stop

    def pause(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def run(table: FakeTable, deadline: float = 30.0) -> tuple[str, set[int]] | None:
    return wait_for_new(table, set(NEW), deadline, table.clock, "app:app", "30 s")


def at(
    when: float, action: Callable[[FakeTable], None]
) -> tuple[float, Callable[[FakeTable], None]]:
    return when, action


def test_proven_when_every_new_worker_has_imported_the_app() -> None:
    table = FakeTable(
        events=[at(1.0, lambda t: t.loaded.add(11)), at(2.0, lambda t: t.loaded.add(12))]
    )
    assert run(table) is None
    assert 2.0 <= table.now < 2.2
    assert table.spawned == []


def test_an_old_worker_that_ends_while_waiting_gets_a_stand_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = FakeTable(
        events=[
            at(0.5, lambda t: t.exits.update({1: "with status 0"})),  # --max-requests
            at(3.0, lambda t: t.loaded.update(NEW)),
        ]
    )
    with caplog.at_level(logging.INFO):
        assert run(table) is None
    assert table.spawned == [101]
    assert table.workers == {2, 101} | NEW  # the running app's count kept: 2
    assert "worker 1 of the running app ended with status 0" in caplog.text
    assert "worker 101 stands in for it" in caplog.text


def test_a_stand_in_that_ends_after_serving_is_replaced_one_that_never_imported_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def stand_in_serves_then_ends(table: FakeTable) -> None:
        table.loaded.add(101)
        table.exits[101] = "with status 0"

    table = FakeTable(
        events=[
            at(0.5, lambda t: t.exits.update({1: "with status 0"})),
            at(1.0, stand_in_serves_then_ends),
            at(1.5, lambda t: t.exits.update({102: "with status 4"})),  # cannot import
            at(5.0, lambda t: t.loaded.update(NEW)),
        ]
    )
    with caplog.at_level(logging.INFO):
        assert run(table) is None
    assert table.spawned == [101, 102]
    assert table.workers == {2} | NEW
    assert "ended with status 4 before it imported the app" in caplog.text


def test_a_new_worker_that_fails_ends_the_wait_with_its_reason() -> None:
    def fails(table: FakeTable) -> None:
        table.failed[12] = "ModuleNotFoundError: No module named 'x'"
        table.exits[12] = "with status 4"

    table = FakeTable(events=[at(0.3, fails)])
    assert run(table) == ("ModuleNotFoundError: No module named 'x'", {12})


def test_a_new_worker_that_ends_without_a_word_is_named_with_its_status() -> None:
    table = FakeTable(events=[at(0.3, lambda t: t.exits.update({11: "with status 0"}))])
    assert run(table) == ("importing app:app ended the process with status 0", {11})


@pytest.mark.parametrize("when", [0.0, 0.05, 2.0])
def test_a_stop_signal_at_any_step_ends_the_wait(when: float) -> None:
    table = FakeTable(events=[at(when, lambda t: setattr(t, "stop", True))])
    result = run(table)
    assert result == ("a stop signal arrived while the new workers imported the app", set())
    assert table.now <= when + 0.2


def test_the_deadline_ends_a_wait_for_an_import_that_never_ends() -> None:
    table = FakeTable()
    assert run(table, deadline=5.0) == (
        "the new workers had not imported app:app after 30 s",
        set(),
    )
    assert 5.0 < table.now < 5.2


def test_keep_serving_outside_a_wait_replaces_what_ended() -> None:
    table = FakeTable(workers=set(OLD), exits={2: "by signal 9"})
    serving = Serving()
    keep_serving(table, set(), serving)
    keep_serving(table, set(), serving)  # nothing more ended: nothing more spawned
    assert table.workers == {1, 101} and serving.stand_ins == {101}


def test_a_worker_reaped_before_the_redeploy_began_is_stood_in_for_too() -> None:
    """gunicorn reaped it (its SIGCHLD came with the SIGHUP) and had not replaced it yet."""
    table = FakeTable(workers={1}, events=[at(1.0, lambda t: t.loaded.update(NEW))])
    table.workers |= NEW
    assert run(table) is None
    assert table.spawned == [101]
