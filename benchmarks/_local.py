"""What every benchmark starts from: a freshly started local AWS with the series' prerequisites,
image and data, stopped again afterwards."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def fresh_local_aws():
    os.environ["TUTORIAL_BACKEND"] = "local"
    os.environ["TUTORIAL_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-state-")
    import helpers
    from local_aws import control

    aws = helpers.connect(quiet=True)
    try:
        helpers.rebuild(aws)
        yield aws
    finally:
        control.stop(aws.settings.state_dir)
