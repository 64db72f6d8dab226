"""The ``fullcycle`` command line."""
