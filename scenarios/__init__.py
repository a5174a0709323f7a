"""Scenario files, the headless runner, snapshots, the Python API and the command line."""
