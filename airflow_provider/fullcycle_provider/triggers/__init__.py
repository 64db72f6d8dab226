"""Triggers: wait for a run in the triggerer, without holding a worker slot."""
