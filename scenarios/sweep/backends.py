"""Where the runs of a sweep execute: a pool of local processes, or Ray tasks.

Both call ``scenarios.sweep.worker.run_one`` on each ``RunSpec`` and hand every row to
``on_row`` as soon as it arrives (in the order runs finish). The rows do not depend on the
backend: each run is deterministic and starts from its own fresh session.

Local pool: ``jobs`` worker processes (started with ``spawn``: a clean interpreter, no
inherited threads), never more than ``jobs`` runs handed out at once. A worker that dies
(killed, out of memory) breaks the pool; the runs it held are recorded as failed and the
rest go on in a new pool.

Ray: one Ray task per run. ``ray.init(address=...)`` joins a cluster (every node needs the
same vmlab installed); without an address a local Ray instance is started whose workers
import vmlab from where this process does. If Ray is already initialised (a notebook, a
test session), that instance is used and left running.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

from scenarios.sweep.params import SweepError
from scenarios.sweep.rows import result_row
from scenarios.sweep.spec import RunSpec
from scenarios.sweep.worker import ignore_interrupts, run_one

OnRow = Callable[[RunSpec, dict[str, object]], None]

#: The object store of a local Ray instance: rows are small, so a little is plenty (Ray's
#: default takes 30 % of RAM in /dev/shm).
RAY_OBJECT_STORE_BYTES: Final = 128 << 20

RAY_MISSING: Final = ("--ray needs Ray, which is not installed: pip install 'vmlab[ray]' "
                      "(or pip install ray)")


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_local(specs: Sequence[RunSpec], jobs: int, on_row: OnRow) -> None:
    """Run every spec in a pool of ``jobs`` processes."""
    todo = list(reversed(specs))
    while todo:
        _run_pool(todo, jobs, on_row)


def _run_pool(todo: list[RunSpec], jobs: int, on_row: OnRow) -> None:
    """Run specs popped from ``todo`` until it is empty or the pool breaks."""
    ctx = get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=ignore_interrupts)
    running: dict[Future[dict[str, object]], RunSpec] = {}
    try:
        while todo or running:
            while todo and len(running) < jobs:
                spec = todo.pop()
                running[pool.submit(run_one, spec)] = spec
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                spec = running.pop(future)
                try:
                    row = future.result()
                except BrokenProcessPool:
                    for lost in [spec, *running.values()]:
                        on_row(lost, result_row(lost.head(), {}, [], "", "",
                                                "the worker process died during the run "
                                                "(killed, or out of memory)"))
                    running.clear()
                    return
                on_row(spec, row)
    except BaseException:
        # interrupted: stop the runs in progress now rather than wait for them
        processes = getattr(pool, "_processes", None) or {}
        for process in list(processes.values()):
            process.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SweepError(RAY_MISSING) from None
    return ray


def init_ray(address: str | None, jobs: int | None = None) -> bool:
    """Connect to Ray: the cluster at ``address``, or a new local instance.

    Returns:
        True when this call started the connection (the caller shuts it down), False when
        Ray was already initialised in this process.

    Raises:
        SweepError: Ray is not installed, or the cluster cannot be reached.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return False
    env = {"VMLAB_INTERPRETED": os.environ["VMLAB_INTERPRETED"]} \
        if "VMLAB_INTERPRETED" in os.environ else {}
    options: dict[str, object] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": "WARNING"}
    if address is None:
        # the workers import vmlab from where this process found it (a checkout works too)
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        env["PYTHONPATH"] = path
        options["object_store_memory"] = RAY_OBJECT_STORE_BYTES
        if jobs is not None:
            options["num_cpus"] = jobs
    try:
        ray.init(address=address, runtime_env={"env_vars": env}, **options)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise SweepError(f"--ray: cannot start {where}: {' '.join(str(exc).split())}") from None
    return True


@contextmanager
def ray_connection(address: str | None, jobs: int | None = None) -> Iterator[None]:
    """Ray connected for the ``with`` block (``init_ray``), shut down after it if this block
    started it.

    Raises:
        SweepError: Ray is not installed, or the cluster cannot be reached.
    """
    started = init_ray(address, jobs)
    try:
        yield
    finally:
        if started:
            _import_ray().shutdown()


def run_ray(specs: Sequence[RunSpec], address: str | None, jobs: int | None,
            on_row: OnRow) -> None:
    """Run every spec as a Ray task (``init_ray`` first, unless Ray is already running)."""
    ray = _import_ray()
    with ray_connection(address, jobs):
        remote = ray.remote(num_cpus=1, max_retries=1)(run_one)
        pending = {remote.remote(spec): spec for spec in specs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                spec = pending.pop(ref)
                try:
                    row = ray.get(ref)
                except Exception as exc:  # the task's worker died, or Ray lost it
                    text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                    row = result_row(spec.head(), {}, [], "", "", f"Ray: {text}")
                on_row(spec, row)


def describe_backend(ray: bool, address: str | None, jobs: int) -> str:
    """One line for the progress display: where the runs go."""
    if not ray:
        return f"{jobs} local process{'es' if jobs != 1 else ''}"
    return f"Ray at {address}" if address else "local Ray"

