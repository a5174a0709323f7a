"""The kernel's timers (include/linux/timer.h, 2.6.6): what each ``EV_TIMER`` event stands
for.

The C kernel declares ``struct timer_list`` in a header and each subsystem arms its own
(``wb_timer`` in mm/page-writeback.c, the scheduler's tick and ``schedule_timeout``'s
process timer in kernel/sched.c and kernel/timer.c). The model's clock carries a timer as an
``EV_TIMER`` event whose first argument is one of these ids; ``Kernel.handle_timer`` runs the
function the id names. Simplified: there is no timer wheel, the clock's event queue is it.
"""

from __future__ import annotations

from typing import Final

#: The end of the running task's slice (scheduler_tick's time-slice expiry).
TIMER_SCHED: Final = 1
#: schedule_timeout's process_timeout: wake the task named by the event's second argument.
TIMER_WAKE: Final = 2
#: wb_timer (mm/page-writeback.c): wb_timer_fn starts wb_kupdate in pdflush.
TIMER_KUPDATE: Final = 3
