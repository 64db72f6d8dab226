"""fullcycle: from one model folder to a production TFX pipeline.

Importing the package pins Keras 2 (``tf-keras``) for TensorFlow: TF 2.16 ships
Keras 3, which TFX 1.16's Trainer and Evaluator cannot use. The variable must be
set before TensorFlow is first imported, in every process (CLI, tests, Beam
workers inherit it from the environment).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__version__ = "0.1.0"
