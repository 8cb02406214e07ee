"""xnat.collector: the cyclic garbage collector paused while big listings are built."""

from __future__ import annotations

import gc
import threading

import pytest

from xnat.collector import collector_paused


def test_the_collector_is_off_inside_and_back_as_it_was() -> None:
    assert gc.isenabled()
    with collector_paused:
        assert not gc.isenabled()
        with collector_paused:  # re-entrant: the inner exit leaves it off
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused:
        raise RuntimeError("a failure inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused:
            pass
        assert not gc.isenabled()  # a script that switched it off keeps it off
    finally:
        gc.enable()


def test_threads_share_one_pause() -> None:
    inside, release = threading.Barrier(2), threading.Event()

    def hold() -> None:
        with collector_paused:
            inside.wait(timeout=10)
            release.wait(timeout=10)

    thread = threading.Thread(target=hold)
    thread.start()
    with collector_paused:
        inside.wait(timeout=10)
    assert not gc.isenabled()  # the other thread is still inside
    release.set()
    thread.join(timeout=10)
    assert gc.isenabled()
