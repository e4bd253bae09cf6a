"""LocalAwsServer is one per process: it sets moto's process-wide configuration."""
import subprocess
import sys

import pytest

from local_aws import LocalAwsServer
from local_aws.server import AnotherServerRuns
from tests.conftest import REPO


def test_a_second_server_in_the_process_is_refused_and_the_first_keeps_serving(server, aws,
                                                                              tmp_path):
    with pytest.raises(AnotherServerRuns, match="one LocalAwsServer per process") as refused:
        LocalAwsServer(state_dir=tmp_path / "second")
    assert server.url in str(refused.value)
    assert not (tmp_path / "second").exists()  # refused before anything was set up
    assert aws("s3").list_buckets()["Buckets"]  # the first one still answers


def test_after_stop_a_new_server_may_start():
    script = ("import tempfile\n"
              "from local_aws import LocalAwsServer\n"
              "first = LocalAwsServer(state_dir=tempfile.mkdtemp()).start()\n"
              "first.stop()\n"
              "second = LocalAwsServer(state_dir=tempfile.mkdtemp()).start()\n"
              "second.stop()\n"
              "print('restarted')\n")
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, cwd=REPO, check=False)
    assert child.stdout.strip() == "restarted", child.stderr[-2000:]
