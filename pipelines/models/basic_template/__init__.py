"""basic_template: the original platform's example model on synthetic data."""
