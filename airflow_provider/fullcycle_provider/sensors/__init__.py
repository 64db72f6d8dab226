"""Sensors: wait for a run someone else started."""
