"""argon2id in reusable work areas: same answers as the library, and a real bound."""

import threading

import pytest
from argon2 import PasswordHasher as Argon2Cffi
from argon2.low_level import Type, hash_secret

from idp.credentials.argon2_memory import WorkAreas, default_slots
from idp.credentials.passwords import PasswordHasher
from tests.conftest import make_settings
from tests.waiting import wait_until

M = 19 * 1024


@pytest.fixture(scope="module")
def areas():
    return WorkAreas(M, 2)


@pytest.mark.parametrize(
    "params",
    [
        {"time_cost": 2, "memory_cost": M, "parallelism": 1},  # GovID's own
        {"time_cost": 3, "memory_cost": 12 * 1024, "parallelism": 1},  # smaller m
        {"time_cost": 1, "memory_cost": 16 * 1024, "parallelism": 4},  # lanes
        {"time_cost": 2, "memory_cost": M, "parallelism": 1, "hash_len": 64, "salt_len": 8},
        {"time_cost": 1, "memory_cost": 2 * M, "parallelism": 1},  # larger than the area
    ],
)
def test_areas_verify_what_argon2_cffi_wrote(areas, params):
    stored = Argon2Cffi(**params).hash("รหัสผ่าน-ของ-ข้าราชการ")
    with areas.slot() as area:
        assert area.verify(stored, "รหัสผ่าน-ของ-ข้าราชการ".encode()) is True
        assert area.verify(stored, "รหัสผ่าน-ของ-ข้าราชการ ".encode()) is False
        assert area.verify(stored, b"") is False


def test_version_1_0_hashes_still_verify(areas):
    """Argon2 1.0 (0x10) hashes compute differently; the library verifies those."""
    salt = b"saltsaltsaltsalt"
    stored = hash_secret(b"old", salt, 1, 8 * 1024, 1, 32, Type.ID, version=0x10).decode()
    assert "$v=16$" in stored
    with areas.slot() as area:
        assert area.verify(stored, b"old") and not area.verify(stored, b"new")


def test_a_hash_argon2_refuses_is_an_error_not_a_mismatch(areas):
    too_little_memory = "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43
    with areas.slot() as area, pytest.raises(ValueError, match="argon2id"):
        area.verify(too_little_memory, b"x")


def test_the_same_area_serves_the_next_computation():
    areas = WorkAreas(M, 1)
    with areas.slot() as first:
        pass
    with areas.slot() as second:
        assert second is first


def waiting_for_a_slot(areas: WorkAreas) -> int:
    """How many threads are blocked in ``slot()`` (waiting on the free-area queue)."""
    return len(areas._free.not_empty._waiters)


def test_no_more_computations_at_once_than_slots():
    areas = WorkAreas(M, 2)
    active, most, lock = 0, 0, threading.Lock()
    release = threading.Event()

    def user():
        nonlocal active, most
        with areas.slot():
            with lock:
                active += 1
                most = max(most, active)
            release.wait(10)  # the computation goes on until the test has looked
            with lock:
                active -= 1

    threads = [threading.Thread(target=user) for _ in range(6)]
    for t in threads:
        t.start()
    # Two computations hold the two slots; the other four wait for one.
    wait_until(
        lambda: active == 2 and waiting_for_a_slot(areas) == 4,
        10,
        lambda: f"2 in slots and 4 waiting, saw {active} and {waiting_for_a_slot(areas)}",
    )
    assert most == 2
    release.set()
    for t in threads:
        t.join(5)
    assert most == 2 and active == 0


def test_the_hasher_holds_a_slot_while_it_verifies_and_hashes():
    """With one slot taken, neither a sign-in's verification nor a new hash starts."""
    hasher = PasswordHasher(make_settings("sqlite://", argon2_concurrency=1))
    assert hasher.areas.slots == 1
    stored = hasher.hash("pw")
    finished = []
    with hasher.areas.slot():
        workers = [
            threading.Thread(target=lambda: finished.append(hasher.verify("pw", stored))),
            threading.Thread(target=lambda: finished.append(hasher.hash("pw2"))),
        ]
        for t in workers:
            t.start()
        wait_until(lambda: waiting_for_a_slot(hasher.areas) == 2, 10, "both to wait for the slot")
        assert finished == []
    for t in workers:
        t.join(5)
    assert True in finished and len(finished) == 2


def test_default_is_one_slot_per_usable_cpu():
    assert PasswordHasher(make_settings("sqlite://")).areas.slots == default_slots() >= 1
