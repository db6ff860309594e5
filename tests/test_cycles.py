"""The garbage collector's pause over bulk work (search/cycles.py)."""

from __future__ import annotations

import gc
import threading

import pytest

from search.cycles import cycles_collected_after


def test_collection_resumes_when_the_last_of_overlapping_pauses_ends():
    entered, leave = threading.Event(), threading.Event()

    def other_work():
        with cycles_collected_after():
            entered.set()
            leave.wait(10)

    worker = threading.Thread(target=other_work)
    with cycles_collected_after():
        assert not gc.isenabled()
        worker.start()
        assert entered.wait(10)
    assert not gc.isenabled()  # the other thread's work still runs
    leave.set()
    worker.join(10)
    assert gc.isenabled()


def test_collection_resumes_after_a_failure_and_stays_off_if_it_was():
    with pytest.raises(ValueError), cycles_collected_after():
        raise ValueError("bulk work failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with cycles_collected_after():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
