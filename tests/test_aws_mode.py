"""Runs tests/aws_mode (the AWS backend's code paths against moto in-process) in an interpreter
of its own: mock_aws resets moto's backends, and this session's in-process local AWS shares them.
Its output is shown when it fails."""
import os
import subprocess
import sys

from helpers import config


def test_the_aws_backend_code_paths_pass_against_moto():
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/aws_mode", "-q", "-p", "no:cacheprovider",
         "-W", "ignore::DeprecationWarning"],
        cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TUTORIAL_AWS_MODE_TESTS": "1"})
    assert finished.returncode == 0, finished.stdout[-6000:] + finished.stderr[-2000:]
    assert " passed" in finished.stdout and "skipped" not in finished.stdout
