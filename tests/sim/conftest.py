"""Fixtures for the fault simulation: the fork start method for worker processes, and a
summary line per store of the steps the simulation ran (events processed plus faults
injected), printed at the end of the session."""

from __future__ import annotations

import multiprocessing

import pytest

SUMMARY: dict[str, list] = {}


@pytest.fixture(scope="session")
def fork():
    """Workers inherit the compiled ruleset and open their own database connections."""
    return multiprocessing.get_context("fork")


@pytest.fixture(scope="session")
def sim_summary():
    """``sim_summary(stats)`` records a history's figures for the end-of-session summary."""
    return lambda stats: SUMMARY.setdefault(stats.store, []).append(stats)


def pytest_terminal_summary(terminalreporter):
    if not SUMMARY:
        return
    terminalreporter.section("fault simulation")
    for store, runs in SUMMARY.items():
        steps, events = sum(s.steps for s in runs), sum(s.events for s in runs)
        kills, drops = sum(s.kills for s in runs), sum(s.drops for s in runs)
        seconds = sum(s.seconds for s in runs)
        terminalreporter.write_line(f"simulation {store}: {steps} steps ({events} events, {kills} kills, "
                                    f"{drops} connection drops) in {len(runs)} histories, {seconds:.1f} s")
