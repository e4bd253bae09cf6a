"""Nothing in the repository holds an account id, a personal path or a secret: what is tracked
by git is what a learner clones and what a fork publishes."""
import re
import subprocess

from helpers import config
from tests.test_helpers import DOCUMENT

# The document's own example account, allowed only where the fidelity tests compare against it;
# moto's documented default account and all-zero placeholders are nobody's account.
DOCUMENT_ACCOUNT = DOCUMENT["account_id"]
FIDELITY_FILES = ("tests/test_helpers.py", "tests/fixtures/document-section1-training.json",
                  "tests/fixtures/document-section2-training-retry-notify.json")
PLACEHOLDER_ACCOUNTS = {"123456789012", "000000000000"}

ACCOUNT_ID = re.compile(r"(?<![\d.])\d{12}(?![\d.])")
PERSONAL_PATH = re.compile(r"(/home/[a-z_][\w-]*|/Users/[A-Za-z][\w.-]*|[A-Z]:\\\\?Users\\\\)")
SECRETS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_secret_access_key\W{1,4}(?!testing)[A-Za-z0-9/+=]{40}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
}


def tracked_text_files():
    names = subprocess.run(["git", "ls-files", "-z"], cwd=config.REPO_ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        path = config.REPO_ROOT / name
        if not path.is_file():
            continue
        try:
            yield name, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary files (none hold text secrets we could read)


def test_the_scan_sees_the_repository():
    names = dict(tracked_text_files())
    assert "helpers/workflows.py" in names and "notebooks/00_setup.ipynb" in names


def test_no_account_id_outside_the_fidelity_tests():
    found = []
    for name, text in tracked_text_files():
        for number in ACCOUNT_ID.findall(text):
            if number in PLACEHOLDER_ACCOUNTS:
                continue
            if number == DOCUMENT_ACCOUNT and name in FIDELITY_FILES:
                continue
            found.append((name, number))
    assert found == []


def test_no_personal_path_and_no_secret():
    found = []
    for name, text in tracked_text_files():
        found += [(name, "personal path", match) for match in PERSONAL_PATH.findall(text)]
        found += [(name, kind, match.group(0)[:12] + "...") for kind, pattern in SECRETS.items()
                  for match in pattern.finditer(text)]
    assert found == []


def test_the_patterns_catch_what_they_are_for():
    account = "2109876" + "54321"  # split: this file is scanned too
    assert ACCOUNT_ID.findall(f"arn:aws:iam::{account}:role/x") == [account]
    assert not ACCOUNT_ID.findall(f"size 1{account} bytes, version 1.{account}")
    home, users = "/" + "home/alice/notebooks", "/" + "Users/bob/x"  # split: this file is scanned
    assert PERSONAL_PATH.search(home) and PERSONAL_PATH.search(users)
    assert SECRETS["AWS access key id"].search("AKIA" + "ABCDEFGHIJKLMNOP")
    assert SECRETS["AWS secret access key"].search(
        "aws_secret_access_key = " + "a" * 20 + "B/+" + "c" * 17)
    assert not SECRETS["AWS secret access key"].search('aws_secret_access_key="testing"')
    assert SECRETS["private key"].search("-----BEGIN RSA " + "PRIVATE KEY-----")
