"""Allocation's write paths: every change of dimensions, tag settings, rules and runs."""
