"""Core kernel (kernel/ in the kernel tree): the kernel instance, tasks, wait queues, scheduling,
fork, exit and the system-call table.
"""
