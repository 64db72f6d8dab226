"""Helpers shared by the tests (servers, Google HTTP fakes, stacks, models): one place each.

Fixtures live in the ``conftest.py`` files; what they and the tests call lives here.
"""
