"""The disk's sparse chunks (machine/disk.py) in a whole state: the borrowed walk the state
hash takes and the copied state hash and save alike, and a snapshot round trip keeps them."""

from __future__ import annotations

from scenarios.session import Session
from scenarios.state import state_hash
from scenarios.state_codec import state_digest


def test_swapped_out_pages_stay_sparse_and_hash_alike() -> None:
    s = Session.load("swap-storm")
    s.run(until_events=4000)
    disk = s.kernel.machine.disk
    assert disk.vl_chunks_allocated() - disk.vl_chunks_whole() > 100  # sparse swap slots
    lent = s.kernel.to_state(borrow=True)
    assert state_digest(lent) == state_hash(s.kernel.to_state()) == s.state_hash()
