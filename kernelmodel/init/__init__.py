"""Booting (init/ in the kernel tree): start_kernel builds a kernel on a machine."""
