"""Runs tests/aws_mode (the AWS backend's code paths against moto in-process) in an interpreter
of its own: mock_aws resets moto's backends, and this session's in-process local AWS shares them.
Its output is shown when it fails."""
import os
import subprocess
import sys

import pytest

from helpers import config


# Measured on the 2-core machine loaded by other sessions (load average about 20): tests/aws_mode
# ran in 493 s, more than pytest's global 300 s. The budget allows more than twice that.
AWS_MODE_BUDGET_SECONDS = 1200


@pytest.mark.long
@pytest.mark.timeout(AWS_MODE_BUDGET_SECONDS)
def test_the_aws_backend_code_paths_pass_against_moto():
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/aws_mode", "-q", "-p", "no:cacheprovider",
         "-W", "ignore::DeprecationWarning"],
        cwd=config.REPO_ROOT, capture_output=True, text=True,
        timeout=AWS_MODE_BUDGET_SECONDS - 30,
        env={**os.environ, "TUTORIAL_AWS_MODE_TESTS": "1"})
    assert finished.returncode == 0, finished.stdout[-6000:] + finished.stderr[-2000:]
    assert " passed" in finished.stdout and "skipped" not in finished.stdout
