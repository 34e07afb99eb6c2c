"""Request ids (issue 21) made without a kernel call per request (issue 22): still 32
characters of [0-9a-f], unique in a process and not repeated by a forked worker."""

import os

from idp import logs


def test_ids_are_unique_and_keep_their_shape():
    made = [logs.new_request_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert all(len(m) == 32 and all(c in "0123456789abcdef" for c in m) for m in made)


def test_a_forked_worker_does_not_repeat_its_parents_ids():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then leave at once
        os.write(write, logs.new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    parent = logs.new_request_id()
    assert child[:16] != parent[:16]
