"""The rehearsal: a model's compiled Vertex AI pipeline executed on this machine against
emulated Google services (``python -m tests.rehearsal --help``, ``make rehearse``)."""
