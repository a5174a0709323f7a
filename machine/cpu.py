"""The CPU: runs one task's user program (``machine/isa.py``) in user mode for a time slice.

The kernel's scheduler calls ``Cpu.run(ctx, budget_ns, trap)``. The CPU executes instructions
from ``ctx.pc`` until the simulated budget is spent, a trap handler says stop, or the program
runs off its end. Every memory access is a user-mode access through ``MMU.probe``; a fault
traps into ``TrapHandler.handle_page_fault`` (vector 14), a system call instruction into
``handle_syscall`` (int 0x80). ``OP_TOUCH`` over resident pages runs as a tight loop that
leaves only on a fault, a system call or the end of the budget.

Time model: each memory access costs ``ACCESS_NS``; each page walk the MMU does during the slice
(a TLB miss or a D-setting re-walk) adds ``TLB_MISS_NS``; loop control and system call issue
cost ``INSN_NS``; ``OP_COMPUTE`` costs its operand. Kernel work done inside a trap is added by
the kernel with ``charge``. ``spent_ns`` is the simulated time of the current (or last) slice.

The data oracle: a write touch stores the u32 ``(ctx.stamp ^ vaddr) & 0xFFFFFFFF`` at each
address, with ``ctx.stamp`` drawn when the instruction starts; every completed store is reported
with ``trap.note_store``. A read touch translates each address (setting A bits, faulting pages
in) but does not fetch the value, which no instruction could observe. ``OP_LOAD`` does fetch.

Page runs (a speed measure with the same observable result): the aligned accesses of a touch
that fall in one page after a successful probe would all hit the same TLB entry with the same
rights, so the CPU probes once, counts the rest as TLB hits, stores them in one batch and then
reports them to ``note_store`` in order. This is exact because nothing between two accesses of
a run can change the TLB or the budget: ``note_store`` must not change mappings or charge time.

Invariants:
    * between instructions ``ctx.cursor == 0`` and ``ctx.op_started`` is False;
    * inside an ``OP_TOUCH`` ``ctx.cursor`` is the offset of the next access, so an access
      interrupted by a fault (``TRAP_STOP``) or the budget is re-executed on the next run;
    * an access that crosses a page boundary commits only after both pages translate.
"""

from __future__ import annotations

from array import array
from typing import Final, final

from mypy_extensions import i64

from machine.i386 import ADDR_MASK, PAGE_SIZE
from machine.interfaces import TRAP_RETRY, TRAP_STOP, TrapHandler
from machine.isa import (
    OP_COMPUTE,
    OP_ENDLOOP,
    OP_LOAD,
    OP_LOOP,
    OP_REPLAY,
    OP_STORE,
    OP_SYSCALL,
    OP_TOUCH,
    TOUCH_WRITE,
    Insn,
)
from machine.mmu import MMU
from machine.physmem import PhysicalMemory
from machine.replay import ACC_CROSSES, ACC_HI_OFFSET, ACC_KIND_SHIFT, ACC_STORE

#: ``run`` returns: the slice's budget is used up.
RUN_BUDGET: Final = 0
#: ``run`` returns: a trap handler returned TRAP_STOP.
RUN_STOPPED: Final = 1
#: ``run`` returns: the program ran past its end; ``handle_exit`` was called.
RUN_EXITED: Final = 2

#: Simulated cost of one memory access that hits the TLB.
ACCESS_NS: Final = 1
#: Extra simulated cost of one page walk (TLB miss).
TLB_MISS_NS: Final = 25
#: Simulated cost of a control instruction (loop, endloop, system call issue).
INSN_NS: Final = 1

_WORD_MASK: Final = 0xFFFFFFFF
_OFFSET_MASK: Final = 0xFFF
_STAMP_PID_MUL: Final = 0x9E3779B1
_STAMP_SEQ_MUL: Final = 0x85EBCA77
#: Internal result of an instruction handler: keep running.
_CONTINUE: Final = -1


@final
class CpuContext:
    """The user-mode register state of one task: program, pc, loop stack and oracle stamp."""

    # state context: prog: list[Insn] from machine.isa
    def __init__(self, pid: int, prog: list[Insn], prog_id: int = 0) -> None:
        self.pid: int = pid  # state
        self.prog: list[Insn] = prog
        #: The kernel's id of the program (snapshots store the program by this id).
        self.prog_id: int = prog_id  # state
        self.pc: int = 0  # state
        #: Offset reached inside the current OP_TOUCH, or ns spent inside an OP_COMPUTE.
        self.cursor: int = 0  # state
        #: Remaining iterations of the open loops, innermost last.
        self.loop_counts: list[int] = []  # state
        self.stamp: int = 0  # state
        self.stamp_seq: int = 0  # state
        self.op_started: bool = False  # state
        #: The last system call's return value (set by the kernel).
        self.retval: int = 0  # state
        self.loads_checked: int = 0  # state
        self.load_mismatches: int = 0  # state

    def clone(self, pid: int) -> CpuContext:
        """A copy of this context for a new task ``pid`` (fork): same program, pc and loops."""
        c = CpuContext(pid, self.prog, self.prog_id)
        c.pc = self.pc
        c.cursor = self.cursor
        c.loop_counts = list(self.loop_counts)
        c.stamp = self.stamp
        c.stamp_seq = self.stamp_seq
        c.op_started = self.op_started
        c.retval = self.retval
        c.loads_checked = self.loads_checked
        c.load_mismatches = self.load_mismatches
        return c

    def __repr__(self) -> str:
        return f"<cpu context pid={self.pid} pc={self.pc}/{len(self.prog)} cursor={self.cursor}>"


@final
class Cpu:
    """Executes user programs through the MMU; traps into the kernel's ``TrapHandler``."""

    # state context: mmu: MMU from machine.mmu; mem: PhysicalMemory from machine.physmem
    def __init__(self, mmu: MMU, mem: PhysicalMemory) -> None:
        self.mmu: MMU = mmu
        self.mem: PhysicalMemory = mem
        #: Simulated ns used by the current (or last) ``run``, kernel charges included.
        self.spent_ns: i64 = 0  # state
        #: Memory accesses completed since power-on.
        self.accesses: i64 = 0  # state
        #: ``mmu.page_walks`` already charged in this slice.
        self._walks_seen: i64 = 0
        #: The value fetched by the last ``_access`` read.
        self._loaded: i64 = 0

    def charge(self, ns: int) -> None:
        """Add ``ns`` of kernel work to the current slice (called by trap handlers)."""
        self.spent_ns += ns

    def _charge_walks(self) -> None:
        """Charge TLB_MISS_NS for each page walk since the last call."""
        walks = self.mmu.page_walks
        if walks != self._walks_seen:
            self.spent_ns += (walks - self._walks_seen) * TLB_MISS_NS
            self._walks_seen = walks

    def run(self, ctx: CpuContext, budget_ns: i64, trap: TrapHandler) -> int:
        """Run ``ctx`` in user mode for up to ``budget_ns`` simulated ns.

        Args:
            ctx: the task's context; ``ctx.pc`` must be in ``0..len(ctx.prog)``.
            budget_ns: the slice length; checked between accesses and instructions.
            trap: the kernel's trap handler.

        Returns:
            RUN_BUDGET, RUN_STOPPED or RUN_EXITED.
        """
        self.spent_ns = 0
        self._walks_seen = self.mmu.page_walks
        prog = ctx.prog
        n = len(prog)
        while True:
            pc = ctx.pc
            if pc >= n or pc < 0:
                if pc != n:
                    raise ValueError(f"cpu: pid {ctx.pid} pc {pc} outside its program of {n}")
                trap.handle_exit(ctx)
                return RUN_EXITED
            if self.spent_ns >= budget_ns:
                return RUN_BUDGET
            insn = prog[pc]
            op = insn.op
            if op == OP_TOUCH:
                r = self._op_touch(ctx, insn, budget_ns, trap)
            elif op == OP_LOOP:
                r = self._op_loop(ctx, insn)
            elif op == OP_ENDLOOP:
                r = self._op_endloop(ctx, insn)
            elif op == OP_STORE:
                r = self._op_store(ctx, insn, trap)
            elif op == OP_LOAD:
                r = self._op_load(ctx, insn, trap)
            elif op == OP_SYSCALL:
                self.spent_ns += INSN_NS
                r = RUN_STOPPED if trap.handle_syscall(ctx, insn) == TRAP_STOP else _CONTINUE
            elif op == OP_COMPUTE:
                r = self._op_compute(ctx, insn, budget_ns)
            elif op == OP_REPLAY:
                r = self._op_replay(ctx, insn, budget_ns, trap)
            else:
                raise ValueError(f"cpu: pid {ctx.pid} pc {pc}: unknown opcode {op}")
            if r != _CONTINUE:
                return r

    # ---- instructions ---------------------------------------------------------------------------

    def _op_touch(self, ctx: CpuContext, insn: Insn, budget_ns: i64, trap: TrapHandler) -> int:
        """OP_TOUCH: access the u32 at a + k*c for every k with k*c < b (the hot loop).

        Aligned accesses go page run by page run: the first access of a run probes the MMU;
        the following ones in the same page (which would hit the same TLB entry with the same
        rights, D already set) are accounted as TLB hits and stored in one batch.
        """
        stride = i64(insn.c)
        if stride <= 0:
            raise ValueError(f"cpu: pid {ctx.pid} pc {ctx.pc}: touch stride {stride} < 1")
        if not ctx.op_started:
            _start_op(ctx)
        length = i64(insn.b)
        base = i64(insn.a)
        write = (insn.d & TOUCH_WRITE) != 0
        stamp = i64(ctx.stamp)
        off = i64(ctx.cursor)
        mmu = self.mmu
        fast = self.mem.fast_words
        while off < length:
            if self.spent_ns >= budget_ns:
                ctx.cursor = off
                return RUN_BUDGET
            vaddr = (base + off) & ADDR_MASK
            if (vaddr & 3) != 0 or not fast:
                ctx.cursor = off
                value = (stamp ^ vaddr) & _WORD_MASK
                if self._access(ctx, vaddr, write, value, trap) != _CONTINUE:
                    return RUN_STOPPED
                off += stride
                continue
            paddr = mmu.probe(vaddr, write, True)
            if paddr < 0:
                ctx.cursor = off
                if self._fault(ctx, trap) != TRAP_RETRY:
                    return RUN_STOPPED
                continue
            self.spent_ns += ACCESS_NS
            if mmu.page_walks != self._walks_seen:
                self._charge_walks()
            n = self._run_length(vaddr, length - off, stride, budget_ns)
            mmu.tlb_hits += n - 1
            self.accesses += n
            self.spent_ns += (n - 1) * ACCESS_NS
            if write:
                self._store_run(ctx, vaddr, paddr, n, stride, stamp, trap)
            off += n * stride
        _end_op(ctx)
        return _CONTINUE

    def _run_length(self, vaddr: i64, left: i64, stride: i64, budget_ns: i64) -> i64:
        """Accesses of a touch run from aligned ``vaddr``: same page, below the length, in budget.

        Caller: the first access is done and charged; ``left`` bytes of the touch remain.
        """
        if (stride & 3) != 0:
            return 1
        n = (PAGE_SIZE - 4 - (vaddr & _OFFSET_MASK)) // stride + 1
        in_length = (left - 1) // stride + 1
        if in_length < n:
            n = in_length
        room = budget_ns - self.spent_ns
        if room <= 0:
            return 1
        extra = (room + ACCESS_NS - 1) // ACCESS_NS
        if extra + 1 < n:
            n = extra + 1
        return n

    def _store_run(
        self,
        ctx: CpuContext,
        vaddr: i64,
        paddr: i64,
        n: i64,
        stride: i64,
        stamp: i64,
        trap: TrapHandler,
    ) -> None:
        """Store the stamps of ``n`` accesses from ``vaddr`` (frame address ``paddr``) and
        report them (note_store, or note_store_run for a run of several).

        Caller: the run lies in one page, ``paddr`` is 4-aligned and ``stride % 4 == 0``
        when ``n > 1``.
        """
        words = self.mem.words
        if n == 1:
            value = (stamp ^ vaddr) & _WORD_MASK
            words[paddr >> 2] = value
            trap.note_store(ctx, vaddr, value)
            return
        values: list[int] = []
        v = vaddr
        i: i64 = 0
        while i < n:
            values.append((stamp ^ v) & _WORD_MASK)
            v += stride
            i += 1
        step = stride >> 2
        first = paddr >> 2
        run = array("I", values)
        words[first : first + (n - 1) * step + 1 : step] = run
        trap.note_store_run(ctx, vaddr, stride, run)

    def _op_replay(self, ctx: CpuContext, insn: Insn, budget_ns: i64, trap: TrapHandler) -> int:
        """OP_REPLAY: the accesses of ``insn.trace`` in order, ``insn.b`` times (the hot loop).

        ``ctx.cursor`` counts the accesses done over all passes. Each access costs ``insn.c``
        ns. A fetch or a load is a read; a store or a modify is a write (x86 checks write
        permission on the read of a read-modify-write, so a modify faults as a write). An
        access that crosses its page's end touches the next page too. A write stores the
        oracle stamp ``(ctx.stamp ^ w) & 0xFFFFFFFF`` in the aligned word ``w`` holding its
        first byte (and, when it crosses, in the first word of the next page): the model
        replays where a program wrote, not what it wrote.

        Page runs (as in ``_op_touch``): within a run of accesses to one page, the first read
        and the first write probe the MMU; the following ones would hit the same TLB entry
        with the same rights and are counted as TLB hits. A fault, a crossing access and the
        end of the slice forget what was probed. The time, TLB-hit and access counters are
        kept in locals and stored back before every call that could read them.
        """
        tr = insn.trace
        if tr is None:
            raise ValueError(f"cpu: pid {ctx.pid} pc {ctx.pc}: replay {insn.s[:12]} has no "
                             f"trace loaded")
        if not ctx.op_started:
            _start_op(ctx)
        count = tr.count
        total = count * i64(insn.b)
        cost = i64(insn.c)
        pos = i64(ctx.cursor)
        if pos >= total:
            _end_op(ctx)
            return _CONTINUE
        stamp = i64(ctx.stamp)
        mmu = self.mmu
        words = self.mem.words
        fast = self.mem.fast_words
        acc = tr.acc
        runs = tr.runs
        nruns = tr.nruns
        idx = pos % count
        base = pos - idx
        r = tr.run_of(idx)
        spent = self.spent_ns
        hits: i64 = 0
        done: i64 = 0
        out_of_time = False
        while True:
            j = r * 8
            page = (i64(runs[j]) | (i64(runs[j + 1]) << 8) | (i64(runs[j + 2]) << 16)
                    | (i64(runs[j + 3]) << 24)) << 12
            end = (i64(runs[j + 4]) | (i64(runs[j + 5]) << 8) | (i64(runs[j + 6]) << 16)
                   | (i64(runs[j + 7]) << 24))
            frame: i64 = -1
            can_read = False
            can_write = False
            while idx < end:
                if spent >= budget_ns:
                    out_of_time = True
                    break
                k = idx * 2
                hi = i64(acc[k + 1])
                off = i64(acc[k]) | ((hi & ACC_HI_OFFSET) << 8)
                write = ((hi >> ACC_KIND_SHIFT) & 3) >= ACC_STORE
                vaddr = page | off
                if (hi & ACC_CROSSES) != 0 or not (can_write or (can_read and not write)):
                    # a call into the MMU or the kernel: store the counters back first
                    self.spent_ns = spent
                    mmu.tlb_hits += hits
                    self.accesses += done
                    hits = 0
                    done = 0
                    ctx.cursor = int(base + idx)
                    can_read = False
                    can_write = False
                    if (hi & ACC_CROSSES) != 0:
                        if self._replay_crossing(ctx, vaddr, write, stamp, trap) != _CONTINUE:
                            return RUN_STOPPED
                        spent = self.spent_ns + cost
                        idx += 1
                        continue
                    paddr = mmu.probe(vaddr, write, True)
                    if paddr < 0:
                        if self._fault(ctx, trap) != TRAP_RETRY:
                            return RUN_STOPPED
                        spent = self.spent_ns
                        continue
                    if mmu.page_walks != self._walks_seen:
                        self._charge_walks()
                        spent = self.spent_ns
                    frame = paddr - off
                    can_read = True
                    can_write = write
                else:
                    hits += 1
                done += 1
                spent += cost
                if write:
                    w = vaddr & ~i64(3)
                    value = (stamp ^ w) & _WORD_MASK
                    if fast:
                        words[(frame | (w & _OFFSET_MASK)) >> 2] = value
                    else:
                        self.mem.write_u32(frame | (w & _OFFSET_MASK), value)
                    trap.note_store(ctx, int(w), int(value))
                idx += 1
            if out_of_time:
                break
            r += 1
            if r == nruns:
                base += count
                if base >= total:
                    break
                r = 0
                idx = 0
        self.spent_ns = spent
        mmu.tlb_hits += hits
        self.accesses += done
        if out_of_time:
            ctx.cursor = int(base + idx)
            return RUN_BUDGET
        _end_op(ctx)
        return _CONTINUE

    def _replay_crossing(self, ctx: CpuContext, vaddr: i64, write: bool, stamp: i64,
                         trap: TrapHandler) -> int:
        """One replayed access that crosses from ``vaddr``'s page into the next: both pages
        translate (faults delivered and retried) before it commits; a write stores a stamp
        in each page."""
        mmu = self.mmu
        w1 = vaddr & ~i64(3)
        w2 = ((vaddr | _OFFSET_MASK) + 1) & ADDR_MASK
        while True:
            p1 = mmu.probe(w1, write, True)
            p2: i64 = -1
            if p1 >= 0:
                p2 = mmu.probe(w2, write, True)
            if p1 >= 0 and p2 >= 0:
                break
            if self._fault(ctx, trap) != TRAP_RETRY:
                return RUN_STOPPED
        self._charge_walks()
        self.accesses += 1
        if write:
            v1 = (stamp ^ w1) & _WORD_MASK
            v2 = (stamp ^ w2) & _WORD_MASK
            self.mem.write_u32(p1, v1)
            self.mem.write_u32(p2, v2)
            trap.note_store(ctx, int(w1), int(v1))
            trap.note_store(ctx, int(w2), int(v2))
        return _CONTINUE

    def _op_store(self, ctx: CpuContext, insn: Insn, trap: TrapHandler) -> int:
        """OP_STORE: store the u32 b at vaddr a."""
        vaddr = i64(insn.a) & ADDR_MASK
        value = i64(insn.b) & _WORD_MASK
        if self._access(ctx, vaddr, True, value, trap) != _CONTINUE:
            return RUN_STOPPED
        ctx.pc += 1
        return _CONTINUE

    def _op_load(self, ctx: CpuContext, insn: Insn, trap: TrapHandler) -> int:
        """OP_LOAD: load the u32 at vaddr a; if c != 0 compare it with b."""
        vaddr = i64(insn.a) & ADDR_MASK
        if self._access(ctx, vaddr, False, 0, trap) != _CONTINUE:
            return RUN_STOPPED
        if insn.c != 0:
            expected = i64(insn.b) & _WORD_MASK
            got = self._loaded
            ctx.loads_checked += 1
            if got != expected:
                ctx.load_mismatches += 1
                trap.note_load(ctx, vaddr, expected, got)
        ctx.pc += 1
        return _CONTINUE

    def _op_loop(self, ctx: CpuContext, insn: Insn) -> int:
        """OP_LOOP: open a loop of a iterations whose OP_ENDLOOP is at b (a <= 0 skips it)."""
        self.spent_ns += INSN_NS
        if insn.a <= 0:
            ctx.pc = insn.b + 1
        else:
            ctx.loop_counts.append(insn.a)
            ctx.pc += 1
        return _CONTINUE

    def _op_endloop(self, ctx: CpuContext, insn: Insn) -> int:
        """OP_ENDLOOP: count an iteration of the loop opened at a; jump back while some remain."""
        self.spent_ns += INSN_NS
        loops = ctx.loop_counts
        if not loops:
            raise ValueError(f"cpu: pid {ctx.pid} pc {ctx.pc}: endloop without an open loop")
        left = loops[-1] - 1
        if left > 0:
            loops[-1] = left
            ctx.pc = insn.a + 1
        else:
            loops.pop()
            ctx.pc += 1
        return _CONTINUE

    def _op_compute(self, ctx: CpuContext, insn: Insn, budget_ns: i64) -> int:
        """OP_COMPUTE: spend a ns; ``ctx.cursor`` holds the ns already spent across slices."""
        remaining = i64(insn.a) - ctx.cursor
        available = budget_ns - self.spent_ns
        if remaining <= available:
            if remaining > 0:
                self.spent_ns += remaining
            ctx.cursor = 0
            ctx.pc += 1
            return _CONTINUE
        self.spent_ns += available
        ctx.cursor += int(available)
        return RUN_BUDGET

    # ---- the general access path ----------------------------------------------------------------

    def _fault(self, ctx: CpuContext, trap: TrapHandler) -> int:
        """Deliver the fault the MMU just reported; return the handler's TRAP_* answer."""
        self._charge_walks()
        mmu = self.mmu
        r = trap.handle_page_fault(ctx, int(mmu.fault_vaddr), int(mmu.fault_error))
        self._walks_seen = mmu.page_walks
        return r

    def _access(
        self, ctx: CpuContext, vaddr: i64, write: bool, value: i64, trap: TrapHandler
    ) -> int:
        """One user-mode u32 access at any alignment, possibly crossing a page boundary.

        A write stores ``value`` and reports it with ``note_store``; a read leaves the value in
        ``self._loaded``. Faults are delivered and retried here.

        Returns:
            _CONTINUE when the access completed, RUN_STOPPED when a fault handler stopped.
        """
        mmu = self.mmu
        first = PAGE_SIZE - (vaddr & _OFFSET_MASK)
        vaddr2 = (vaddr + first) & ADDR_MASK
        paddr2: i64 = -1
        while True:
            paddr = mmu.probe(vaddr, write, True)
            if paddr >= 0 and first < 4:
                paddr2 = mmu.probe(vaddr2, write, True)
            if paddr >= 0 and (first >= 4 or paddr2 >= 0):
                break
            if self._fault(ctx, trap) != TRAP_RETRY:
                return RUN_STOPPED
        if first >= 4:
            if write:
                self.mem.write_u32(paddr, value)
            else:
                self._loaded = i64(self.mem.read_u32(paddr))
        else:
            self._split_access(paddr, paddr2, first, write, value)
        if write:
            trap.note_store(ctx, vaddr, value)
        self.accesses += 1
        self.spent_ns += ACCESS_NS
        self._charge_walks()
        return _CONTINUE

    def _split_access(self, paddr: i64, paddr2: i64, first: i64, write: bool, value: i64) -> None:
        """The bytes of a u32 access split across two frames: ``first`` bytes at ``paddr``."""
        mem = self.mem
        if write:
            data = int(value).to_bytes(4, "little")
            mem.write(int(paddr), data[:first])
            mem.write(int(paddr2), data[first:])
            return
        data = mem.read(int(paddr), int(first)) + mem.read(int(paddr2), int(4 - first))
        self._loaded = int.from_bytes(data, "little")

    def __repr__(self) -> str:
        return f"<cpu spent={self.spent_ns}ns accesses={self.accesses}>"


def _start_op(ctx: CpuContext) -> None:
    """Draw the instruction's oracle stamp from (pid, stamp_seq) and mark it started."""
    ctx.stamp = ((ctx.pid + 1) * _STAMP_PID_MUL + ctx.stamp_seq * _STAMP_SEQ_MUL) & _WORD_MASK
    ctx.stamp_seq += 1
    ctx.op_started = True


def _end_op(ctx: CpuContext) -> None:
    """Finish the current instruction: clear the cursor and step past it."""
    ctx.cursor = 0
    ctx.op_started = False
    ctx.pc += 1
