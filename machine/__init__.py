"""The emulated hardware: clock and events, physical memory, i386 MMU and TLB, CPU, disk."""
