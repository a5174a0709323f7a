"""The Linux 2.6.6-era virtual-memory model that runs on the emulated machine."""
