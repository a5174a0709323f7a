"""Sweeps: one scenario across many configurations (``vmlab sweep``).

A sweep is the cross product of scenario fields (``--set machine.memory=16MiB,32MiB``), kernel
configurations (profiles x design switches, ``scenarios.profiles.DESIGNS``) and seeds.
``plan`` checks everything and lists the runs, ``worker`` runs one (in a worker process or a
Ray task), ``backends`` hands the runs out, ``results`` keeps one row per run in a CSV or
Parquet file (resumable), ``report`` summarises and plots them.

This package's ``__init__`` and ``spec`` import nothing of the model, so a worker can choose
the model's flavour (``VMLAB_INTERPRETED``) before anything loads it.
"""
