"""The clock (idp/clock.py): the same assertions against the real clock and each fake
(DESIGN §2 rule 4), then what only the fakes do, and the setting refused in production."""

import datetime as dt
import subprocess
import sys
import time

import pytest
from pydantic import ValidationError

from idp.clock import FakeClock, OffsetFileClock, SystemClock, make_clock, write_offset
from idp.config import Settings
from idp.services import Services
from tests.conftest import make_settings


@pytest.fixture(params=["system", "fake", "offset-file"])
def clock(request, tmp_path):
    if request.param == "system":
        return SystemClock()
    if request.param == "fake":
        return FakeClock()
    return OffsetFileClock(tmp_path / "offset")


def test_now_is_aware_utc_and_agrees_with_time(clock):
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
    assert abs(now.timestamp() - clock.time()) < 1.0
    # Near the real time until moved (a fake starts at the real time when made).
    assert abs(clock.time() - time.time()) < 5.0


def test_monotonic_never_goes_back(clock):
    readings = [clock.monotonic() for _ in range(1000)]
    assert readings == sorted(readings)


@pytest.fixture(params=["fake", "offset-file"])
def movable(request, tmp_path):
    return FakeClock() if request.param == "fake" else OffsetFileClock(tmp_path / "offset")


def test_advance_moves_wall_and_monotonic_time_together(movable):
    before_wall, before_mono = movable.time(), movable.monotonic()
    movable.advance(3600)
    assert 3600 <= movable.time() - before_wall < 3601
    assert 3600 <= movable.monotonic() - before_mono < 3601
    assert abs(movable.now().timestamp() - movable.time()) < 1.0
    with pytest.raises(ValueError, match="does not go back"):
        movable.advance(-1)


def test_a_fake_clock_stands_still_until_told():
    start = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    clock = FakeClock(start)
    real = time.time()
    while time.time() == real:  # real time passes; the fake's does not
        pass
    assert clock.now() == start and clock.time() == start.timestamp()
    clock.set(start - dt.timedelta(days=1))  # wall time may jump back...
    mono = clock.monotonic()
    assert clock.now() == start - dt.timedelta(days=1)
    clock.set(start)
    assert clock.monotonic() == mono + 86400  # ...monotonic time only forward
    with pytest.raises(ValueError, match="naive"):
        FakeClock(dt.datetime(2030, 1, 1))


def test_another_process_moves_an_offset_file_clock(tmp_path):
    path = tmp_path / "offset"
    clock = OffsetFileClock(path)
    assert clock.offset() == 0.0  # no file yet
    code = f"from idp.clock import write_offset; write_offset({str(path)!r}, 90.5)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert clock.offset() == 90.5
    assert 90 <= clock.time() - time.time() < 91
    write_offset(path, 0)
    assert clock.offset() == 0.0
    assert not list(tmp_path.glob(".offset.*"))  # the temporary file is gone


def test_services_use_the_clock_given_or_the_setting(tmp_path):
    fake = FakeClock()
    assert Services(make_settings("sqlite://"), clock=fake).clock is fake
    assert isinstance(Services(make_settings("sqlite://")).clock, SystemClock)
    path = str(tmp_path / "offset")
    held = Services(make_settings("sqlite://", clock_offset_file=path)).clock
    assert isinstance(held, OffsetFileClock) and held.path == tmp_path / "offset"
    assert isinstance(make_clock(), SystemClock)


def test_the_offset_file_is_refused_in_production(tmp_path):
    with pytest.raises(ValidationError, match="IDP_CLOCK_OFFSET_FILE"):
        Settings(
            env="prod",
            secret_key="s" * 40,
            data_key="a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=",
            issuer="https://id.example.go.th",
            clock_offset_file=str(tmp_path / "offset"),
        )
    assert Settings(env="dev", clock_offset_file="x").clock_offset_file == "x"
