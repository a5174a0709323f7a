"""The inspection layer: what the dashboard, ``vmlab snapshot diff`` and the /proc views say
about memory, decided once (model scaffolding, no kernel counterpart).

* ``frame_state``: what each frame is used for (state, list, contents), a pure function of
  a page's fields, and the dashboard's whole-map bytes;
* ``walk``: the i386 page walk of any address space and the words of a page-table entry
  (swap entries decoded with the kernel's own ``pgtable`` helpers);
* ``saved``: the same, read from a saved kernel's plain data (a snapshot) without restoring it.

Nothing here changes the model; the kernel itself never imports this package. The profiles
and their descriptions are not here but in ``scenarios.profiles`` (``DESIGNS``), since a
profile is a scenario-level choice of designs the kernel only receives.
"""
