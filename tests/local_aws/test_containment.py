"""Hostile keys and names cannot make a job write outside its folder.

Every path the local SageMaker makes from data goes through local_aws.s3files: training channels
(an object key below the channel's prefix, the channel's name) and model archives (each member's
name and type). Each test plants a target outside the job folders (pytest's `tmp_path`, which is
not under the server's state directory), tries to reach it, and checks that the job or endpoint
failed with SageMaker's `ClientError: ...` FailureReason naming the key or member, and that nothing
appeared there. Output uploads make no path from data: the archive's file name is fixed
(model.tar.gz, output.tar.gz) and job names follow SageMaker's pattern (test_training_jobs.py).
"""
import io
import tarfile
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_aws.s3files import UnsafePath, channel_folder, contained_path, extract_archive
from tests.conftest import REGION, training_request, wait_for_job
from tests.local_aws.test_hosting import wait_for_endpoint


def unique(prefix):
    return f"{prefix}-{time.time_ns()}"


def climbing_to(target) -> str:
    """A relative path that, joined to any folder of this machine, names `target`: enough `..`
    to reach the root, then the target's absolute path without its leading slash."""
    return "../" * 40 + str(target).lstrip("/")


def hostile_bucket(aws, keys: dict) -> str:
    bucket = unique("hostile")
    aws("s3").create_bucket(Bucket=bucket)
    for key, body in keys.items():
        aws("s3").put_object(Bucket=bucket, Key=key, Body=body)
    listed = [o["Key"] for o in aws("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed) == sorted(keys), "S3 must keep the hostile key as it is"
    return bucket


def train_on(aws, bucket: str, prefix: str, channel: str = "train", image=None) -> dict:
    name = unique("contained")
    request = training_request(aws, name, image=image)
    request["InputDataConfig"][0]["ChannelName"] = channel
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{bucket}/{prefix}"
    aws("sagemaker").create_training_job(**request)
    return wait_for_job(aws, name)


def everything_under(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


@pytest.mark.parametrize("hostile_key", [
    pytest.param(lambda outside: f"train/{climbing_to(outside / 'x.csv')}", id="dot-dot"),
    pytest.param(lambda outside: f"train/../../../../{outside.name}/x.csv", id="dot-dot-short"),
])
def test_a_key_climbing_out_of_its_channel_fails_the_job_and_writes_nothing(aws, tmp_path,
                                                                           hostile_key):
    outside = tmp_path / "outside"
    outside.mkdir()
    key = hostile_key(outside)
    # A harmless key listed first: nothing at all is downloaded once one key is refused.
    bucket = hostile_bucket(aws, {"train/a-good.csv": b"1,2\n", key: b"0,0\n"})
    job = train_on(aws, bucket, "train/")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        f"ClientError: Data download failed for channel 'train' (s3://{bucket}/train/): "
        f"The object key '{key}' would be written outside its folder")
    assert everything_under(tmp_path) == [outside.relative_to(tmp_path)]


def test_a_key_with_a_leading_slash_fails_the_job(aws, tmp_path):
    # With the prefix "" every key is relative to the bucket: "/<tmp>/x.csv" would be absolute.
    key = f"{tmp_path}/x.csv"
    bucket = hostile_bucket(aws, {key: b"0,0\n"})
    job = train_on(aws, bucket, "")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: Data download failed for channel "
                                           f"'train' (s3://{bucket}/): The object key '{key}'")
    assert everything_under(tmp_path) == []


def test_a_key_with_a_nul_fails_the_job(aws):
    key = "train/x\x00.csv"
    bucket = hostile_bucket(aws, {key: b"0,0\n"})
    job = train_on(aws, bucket, "train/")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: Data download failed for channel "
                                           f"'train' (s3://{bucket}/train/): The object key "
                                           "'train/x\\x00.csv'")


@pytest.mark.parametrize("channel, problem", [
    ("..", "Member must not be '.' or '..'"),
    (".", "Member must not be '.' or '..'"),
    ("../../escape", "Member must satisfy regular expression pattern: [A-Za-z0-9\\.\\-_]+"),
    ("/tmp/escape", "Member must satisfy regular expression pattern"),
    ("a\x00b", "Member must satisfy regular expression pattern"),
    ("", "Member must have length between 1 and 64"),
    ("c" * 65, "Member must have length between 1 and 64"),
])
def test_a_channel_name_off_aws_pattern_is_refused_at_create(aws, server, channel,
                                                              problem):
    """CreateTrainingJob's ChannelName: 1-64 characters of [A-Za-z0-9\\.\\-_]+
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Channel.html); `.` and `..`
    match the pattern but name no folder of their own, so they are refused too. boto3's own
    length check is off: the server must refuse, whatever the client checks."""
    name = unique("channel")
    request = training_request(aws, name)
    request["InputDataConfig"][0]["ChannelName"] = channel
    unchecked = boto3.client("sagemaker", region_name=REGION, endpoint_url=server.url,
                             config=Config(parameter_validation=False),
                             **server.credentials.for_boto3())
    with pytest.raises(ClientError) as error:
        unchecked.create_training_job(**request)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    message = error.value.response["Error"]["Message"]
    assert "'inputDataConfig.1.member.channelName' failed to satisfy constraint" in message
    assert problem in message
    with pytest.raises(ClientError, match="does not exist"):
        aws("sagemaker").describe_training_job(TrainingJobName=name)


def test_a_valid_channel_name_with_dots_and_dashes_is_its_folder(aws, script_image):
    image = script_image('test -f "$OPT_ML/input/data/train.v-1_a/iris.csv"\n')
    job = train_on(aws, "test-bucket-local-aws", "iris/train/", channel="train.v-1_a",
                   image=image)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")


# ---- model archives --------------------------------------------------------------------------

def archive_of(*members) -> bytes:
    """A .tar.gz of (TarInfo, bytes or None) members, written as given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def member(name, data=None, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, (data if data is not None else (b"x" if kind == tarfile.REGTYPE else None))


HOSTILE_ARCHIVES = {
    "dot-dot": lambda out: [member("model.pkl"), member(climbing_to(out / "x.txt"))],
    "absolute": lambda out: [member("model.pkl"), member(f"{out}/abs.txt")],
    "symlink-then-write-through-it": lambda out: [
        member("model.pkl"), member("escape", kind=tarfile.SYMTYPE, link=str(out)),
        member("escape/through.txt")],
    "symlink-inside": lambda out: [member("model.pkl"),
                                   member("alias.pkl", kind=tarfile.SYMTYPE, link="model.pkl")],
    "hard-link": lambda out: [member("model.pkl"),
                              member("hard", kind=tarfile.LNKTYPE, link=str(out / "target"))],
    "device": lambda out: [member("model.pkl"), member("null", kind=tarfile.CHRTYPE)],
}
REFUSED_MEMBER = {"dot-dot": "would be written outside its folder",
                  "absolute": "would be written outside its folder",
                  "symlink-then-write-through-it": "is a link or a special file",
                  "symlink-inside": "is a link or a special file",
                  "hard-link": "is a link or a special file",
                  "device": "is a link or a special file"}


@pytest.mark.parametrize("kind", sorted(HOSTILE_ARCHIVES))
def test_a_hostile_model_archive_fails_the_endpoint_and_writes_nothing(aws, server, tmp_path,
                                                                       kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target").write_text("untouched")
    bucket, name = "test-bucket-local-aws", unique(kind.replace("-", "")[:40])
    key = f"hostile-models/{name}/model.tar.gz"
    aws("s3").put_object(Bucket=bucket, Key=key,
                         Body=archive_of(*HOSTILE_ARCHIVES[kind](outside)))
    sagemaker = aws("sagemaker")
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=aws.role_arn, PrimaryContainer={
        "Image": aws.image, "ModelDataUrl": f"s3://{bucket}/{key}"})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    try:
        endpoint = wait_for_endpoint(aws, name)
    finally:
        sagemaker.delete_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "Failed"
    reason = endpoint["FailureReason"]
    assert reason.startswith("ClientError: Failed to extract model data archive: The model data "
                             f"archive 's3://{bucket}/{key}' has a member '"), reason
    assert REFUSED_MEMBER[kind] in reason
    assert everything_under(tmp_path) == [outside.relative_to(tmp_path),
                                          (outside / "target").relative_to(tmp_path)]
    assert (outside / "target").read_text() == "untouched"
    # The refused archive's folder is gone too: no endpoint folder is left behind.
    assert not list((server.state_dir / "jobs").glob(f"{name}-*"))


# ---- the functions every job kind calls -------------------------------------------------------

@pytest.mark.parametrize("relative", ["../x", "a/../../x", "/etc/x", "a\x00b", "a\\..\\x", "",
                                      "."])
def test_contained_path_refuses_what_would_leave_the_folder(tmp_path, relative):
    with pytest.raises(UnsafePath, match="would be written outside its folder"):
        contained_path(tmp_path, relative)


def test_contained_path_refuses_a_way_out_through_a_symbolic_link(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePath):
        contained_path(tmp_path / "root", "link/x")
    assert contained_path(tmp_path / "root", "a/./b") == (tmp_path / "root" / "a" / "b").resolve()


def test_channel_folder_is_the_channel_under_its_root(tmp_path):
    assert channel_folder(tmp_path, "train") == tmp_path.resolve() / "train"
    with pytest.raises(UnsafePath, match="The channel name '..' is invalid"):
        channel_folder(tmp_path, "..")


def test_extract_archive_writes_nothing_when_one_member_is_refused(tmp_path):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(archive_of(member("first.pkl"), member("../escape.txt")))
    (tmp_path / "model").mkdir()
    with pytest.raises(UnsafePath, match="'../escape.txt'"):
        extract_archive(archive, tmp_path / "model")
    assert everything_under(tmp_path) == sorted([archive.relative_to(tmp_path),
                                                 (tmp_path / "model").relative_to(tmp_path)])


def test_extract_archive_unpacks_an_archive_made_with_tar_dot(tmp_path):
    """`tar czf model.tar.gz -C model .` names members ./x: the usual way to make one."""
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(archive_of(member("./", kind=tarfile.DIRTYPE), member("./model.pkl"),
                                   member("./sub", kind=tarfile.DIRTYPE), member("./sub/w.bin")))
    extract_archive(archive, tmp_path / "model")
    assert (tmp_path / "model" / "model.pkl").read_bytes() == b"x"
    assert (tmp_path / "model" / "sub" / "w.bin").is_file()
