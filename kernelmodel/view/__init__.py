"""Whole-map views of the model for the dashboard (model scaffolding, compiled because they scan
every frame).
"""
