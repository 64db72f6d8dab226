"""Hooks: how the provider talks to the fullcycle runner."""
