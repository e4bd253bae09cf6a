"""`make test` relies on pytest-xdist's `--dist loadgroup`: tests marked with one
`xdist_group` run on one worker, in order (the series run twice on one backend; modules whose
expensive set-up must run once). pytest 9.2 broke that silently (pytest-xdist issue #1386): the
tests were spread over both workers. This runs a small grouped suite the way `make test` runs
the real one and checks where each test ran."""
import re
import subprocess
import sys

GROUPED = '''
import pytest
pytestmark = pytest.mark.xdist_group("together")

@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    pass
'''


def test_tests_of_one_xdist_group_run_on_one_worker_in_order(tmp_path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_other.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', range(6))\ndef test_other(n):\n"
        "    pass\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v",
                          "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    ran = re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED \S*test_grouped\[(\d)\]", run.stdout)
    assert len(ran) == 6, run.stdout[-3000:]
    assert len({worker for worker, _ in ran}) == 1, f"the group ran on several workers: {ran}"
    assert [int(n) for _, n in ran] == list(range(6)), f"the group ran out of order: {ran}"
    assert len(set(re.findall(r"\[(gw\d)\]", run.stdout))) == 2  # the other tests used both
