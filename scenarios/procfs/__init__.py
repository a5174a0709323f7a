"""/proc as Linux 2.6.6 printed it, computed from the model's state: one file per view.

``meminfo`` (fs/proc/proc_misc.c: meminfo_read_proc), ``vmstat`` (mm/page_alloc.c:
vmstat_text), ``maps`` and ``status`` of a task (fs/proc/task_mmu.c, fs/proc/array.c) and
``page_types``, a census of struct page flags in the manner of the later page-types tool.
Each module reads the kernel and returns text; nothing here changes the model.
``VIEWS`` names them for ``vmlab proc`` and the dashboard's /proc tab.
"""

from __future__ import annotations

from typing import Final

#: View name -> (takes a PID, one line of help).
VIEWS: Final = {
    "meminfo": (False, "/proc/meminfo: memory totals in kB"),
    "vmstat": (False, "/proc/vmstat: the 2.6.6 counters by name"),
    "maps": (True, "/proc/PID/maps: the task's VMAs"),
    "status": (True, "/proc/PID/status: the task's state and memory (VmSize, VmRSS, ...)"),
    "page-types": (False, "every struct page counted by its flags"),
}
