"""fullcycle: from one model folder to a production TFX pipeline.

Importing the package pins Keras 2 (``tf-keras``) for TensorFlow: TF 2.16 ships
Keras 3, which TFX 1.16's Trainer and Evaluator cannot use. The variable must be
set before TensorFlow is first imported, in every process (CLI, tests, Beam
workers inherit it from the environment).

It also hides google-api-core's Python-version ``FutureWarning``: every Google
client library (aiplatform, storage, bigquery, ...) prints it once per module on
Python 3.10, and this stack cannot move off 3.10 (TFX 1.16 is the newest TFX
whose wheels install on glibc 2.36, and it needs Python 3.9-3.10). The filter
is installed here, on the package's first import, because users' own scripts
and notebooks import the Google libraries themselves after ``pipelines``.
"""

import os
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# Only google-api-core's version notice: other FutureWarnings still show.
warnings.filterwarnings(
    "ignore", category=FutureWarning, module=r"google\.api_core\._python_version_support",
    message=r"You are using a (non-supported )?Python version")

__version__ = "0.1.0"
