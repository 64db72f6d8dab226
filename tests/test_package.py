"""What importing the ``pipelines`` package does to the user's own process."""

import subprocess
import sys


def test_google_libraries_imported_after_pipelines_print_no_python_version_warning():
    # google-api-core warns about Python 3.10 once per Google module it loads; a user's
    # script or notebook importing pipelines first must not see that wall of text.
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c",
         "import pipelines, warnings; import google.cloud.aiplatform; "
         "warnings.warn('still shown', FutureWarning)"],
        capture_output=True, text=True, timeout=300, check=True)
    assert "non-supported Python version" not in done.stderr
    assert "past its end of life" not in done.stderr
    # The filter is narrow: other FutureWarnings still reach the user.
    assert done.stderr.count("FutureWarning") == 1 and "still shown" in done.stderr
