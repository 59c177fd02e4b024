"""Metric implementations shared by tasks (summable state: update / compute / merge)."""
