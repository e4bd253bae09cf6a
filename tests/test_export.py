"""`python -m helpers export`: per workflow, the ASL and a CloudFormation template with the state
machine and its prerequisites; region- and account-neutral, valid ASL, clean for cfn-lint."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import config, workflows
from series_tools import cli, export
from local_aws import parse_definition
from tests.test_helpers import DOCUMENT

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
# One worker runs the module (`make test` uses --dist loadgroup): the export runs once.
pytestmark = [pytest.mark.xdist_group("export"), pytest.mark.long]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    assert cli.main(["export", str(out)]) == 0
    return out


def test_every_workflow_has_its_asl_and_template(exported):
    assert sorted(p.name for p in exported.iterdir()) == sorted(
        f"{name}{suffix}" for name in workflows.BUILDERS
        for suffix in (".asl.json", ".template.json"))


@pytest.mark.parametrize("name", list(workflows.BUILDERS))
def test_the_asl_parses_and_is_the_workflow_once_substituted(exported, name):
    text = (exported / f"{name}.asl.json").read_text()
    parse_definition(text)  # the interpreter's own grammar; raises if invalid
    names = workflows.Names(**DOCUMENT, training_instance_type=config.AWS_TRAINING_INSTANCE_TYPE,
                            endpoint_instance_type=config.AWS_ENDPOINT_INSTANCE_TYPE)
    values = {"SageMakerRoleArn": names.sagemaker_role_arn, "AlertTopicArn": names.topic_arn,
              "ImageUri": names.image_uri, "Bucket": names.bucket}
    for variable, value in values.items():
        text = text.replace("${" + variable + "}", value)
    assert json.loads(text) == workflows.definition(workflows.build(name, names))


def test_the_files_name_no_account_and_no_region(exported):
    for path in exported.iterdir():
        text = path.read_text()
        assert not re.search(r"\b\d{12}\b", text.replace("000000000000", "")), path.name
        assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", text), path.name


def test_cfn_lint_passes_on_every_template(exported):
    templates = sorted(str(p) for p in exported.glob("*.template.json"))
    finished = subprocess.run([str(CFN_LINT), *templates], capture_output=True, text=True,
                              timeout=600)
    assert finished.returncode == 0, finished.stdout + finished.stderr


def test_cfn_lint_is_not_blind(tmp_path):
    broken = export.template("training")
    broken["Resources"]["StateMachine"]["Properties"]["RoleArn"] = {"Fn::GetAtt": [
        "NoSuchRole", "Arn"]}
    (tmp_path / "broken.template.json").write_text(json.dumps(broken))
    finished = subprocess.run([str(CFN_LINT), str(tmp_path / "broken.template.json")],
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode != 0 and "NoSuchRole" in finished.stdout


def test_the_template_wires_roles_topic_bucket_and_scoped_policies():
    template = export.template("train-and-host")
    resources = template["Resources"]
    machine = resources["StateMachine"]["Properties"]
    assert machine["StateMachineName"] == config.STATE_MACHINE_PREFIX + "train-and-host"
    assert machine["DefinitionSubstitutions"] == {
        variable: cfn for variable, (_, cfn) in export.SUBSTITUTIONS.items()}
    policy = resources["StepFunctionsRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    pass_role = next(s for s in policy["Statement"] if s["Action"] == "iam:PassRole")
    assert pass_role["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${SageMakerExecutionRole}"}
    for resource in resources.values():
        assert {"Key": config.SERIES_TAG_KEY, "Value": config.SERIES_TAG_VALUE} in \
            resource["Properties"]["Tags"]
