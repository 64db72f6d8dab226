"""Model folders: one sub-package per model, each with a ``config.py`` defining CONFIG."""
