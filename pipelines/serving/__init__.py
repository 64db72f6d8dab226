"""Serving: loading pushed models and answering predictions."""
