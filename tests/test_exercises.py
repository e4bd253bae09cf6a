"""Workshop mode: every notebook's exercises check themselves (the solutions pass, untouched and
plausible wrong answers get feedback that names the mistake), `reset` puts a notebook back at its
start, and `make workshop` writes student and instructor copies, a plan and an agenda."""
import json
import re

import nbformat
import pytest

import helpers
from helpers import config, exercises, workflows
from series_tools import series, workshop
from helpers.sdk import steps
from tests.conftest import run_workflow as run

NOTEBOOKS = series.notebooks()
CHECK_CALL = re.compile(r'helpers\.exercises\.check\(aws, "(\d\d\.\d)", answer\)')


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def exercise_cells(notebook) -> list[tuple[str, object, object]]:
    """(id, learner's cell, solution cell) for each exercise cell of the notebook."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if "exercise" in tags(cell):
            learner, solution = notebook.cells[index + 1], notebook.cells[index + 2]
            found.append((CHECK_CALL.search(learner.source).group(1), learner, solution))
    return found


# ---- the notebooks' exercises ------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_exercise_has_a_learner_cell_and_a_hidden_solution(path):
    notebook = nbformat.read(path, as_version=4)
    found = exercise_cells(notebook)
    assert len(found) >= 2, f"{path.name} has {len(found)} exercise cells"
    for exercise_id, learner, solution in found:
        assert exercise_id.startswith(path.name[:2]) and exercise_id in exercises.EXERCISES
        assert learner.cell_type == "code" and not tags(learner)
        assert learner.source.startswith("answer = None")
        assert solution.cell_type == "code" and "solution" in tags(solution)
        assert solution.metadata["jupyter"]["source_hidden"] is True
        assert CHECK_CALL.search(solution.source).group(1) == exercise_id


def test_every_registered_exercise_is_in_exactly_one_notebook():
    used = [exercise_id for path in NOTEBOOKS
            for exercise_id, _, _ in exercise_cells(nbformat.read(path, as_version=4))]
    assert sorted(used) == sorted(exercises.EXERCISES)


def check_executed_exercises(executed) -> None:
    """In an executed notebook the untouched cell says what is missing, the solution passes.
    (Called by tests/test_notebooks.py on every notebook it runs.)"""
    for exercise_id, learner, solution in exercise_cells(executed):
        said = "".join(o.get("data", {}).get("text/plain", "") for o in learner.outputs)
        assert f"✘ {exercise_id}" in said and "No answer yet: set `answer` to" in said, said
        said = "".join(o.get("data", {}).get("text/plain", "") for o in solution.outputs)
        assert f"✔ {exercise_id}" in said, f"the solution of {exercise_id} did not pass: {said}"


@pytest.mark.parametrize("exercise_id", sorted(exercises.EXERCISES))
def test_an_untouched_answer_is_told_what_to_give(exercise_id):
    feedback = exercises.check(None, exercise_id, None)
    assert not feedback.passed
    assert feedback.problems == [f"No answer yet: set `answer` to "
                                 f"{exercises.EXERCISES[exercise_id].expects}."]
    assert repr(feedback).startswith(f"✘ {exercise_id} · ")


def test_an_unknown_exercise_is_named():
    with pytest.raises(KeyError, match="No exercise '04.9'"):
        exercises.check(None, "04.9", "x")


# ---- plausible wrong answers, exercise by exercise (on the in-process local AWS) ----------------

def said(feedback) -> str:
    assert not feedback.passed, repr(feedback)
    return " ".join(feedback.problems)


def run_definition(aws, name: str, definition: dict, execution_input=None) -> str:
    """Run hand-edited ASL as state machine sagemaker-byo-<name> (replacing an older one)."""
    names = workflows.Names.from_aws(aws)
    sfn = aws.client("stepfunctions")
    arn = f"arn:aws:states:{aws.region}:{aws.account_id}:stateMachine:" \
          f"{config.STATE_MACHINE_PREFIX}{name}"
    try:
        sfn.delete_state_machine(stateMachineArn=arn)
    except sfn.exceptions.ClientError:
        pass
    sfn.create_state_machine(name=config.STATE_MACHINE_PREFIX + name,
                             roleArn=names.workflow_role_arn, definition=json.dumps(definition))
    execution = workflows.start(aws, arn, execution_input=execution_input)
    helpers.executions.wait(aws, execution, timeout=120)
    return execution


@pytest.fixture
def names(local):
    return workflows.Names.from_aws(local)


def test_00_pass_role_wrong_statements(local, names):
    right = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": names.sagemaker_role_arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}
    assert exercises.check(local, "00.1", right).passed
    assert "Resource is '*'" in said(exercises.check(local, "00.1", dict(right, Resource="*")))
    assert "the Step Functions role itself" in said(exercises.check(
        local, "00.1", dict(right, Resource=names.workflow_role_arn)))
    no_condition = {key: value for key, value in right.items() if key != "Condition"}
    assert "No Condition" in said(exercises.check(local, "00.1", no_condition))
    assert "also allows ['iam:GetRole']" in said(exercises.check(
        local, "00.1", dict(right, Action=["iam:PassRole", "iam:GetRole"])))
    assert "should be a policy statement" in said(exercises.check(local, "00.1", "iam:PassRole"))


def test_00_trust_principal_wrong_answers(local, names):
    assert exercises.check(local, "00.2", "sagemaker.amazonaws.com").passed
    assert "the *Step Functions* role" in said(exercises.check(local, "00.2",
                                                               "states.amazonaws.com"))
    assert "is an ARN" in said(exercises.check(local, "00.2", names.sagemaker_role_arn))


def test_01_local_training_wrong_answers(tmp_path):
    iris = helpers.data.DATA_DIR / "iris.csv"
    three = tmp_path / "three"
    helpers.container.local_train(three, iris, {"max_leaf_nodes": "3"})
    assert "You trained with max_leaf_nodes = '3'" in said(exercises.check(None, "01.1", three))
    assert "should be the directory" in said(exercises.check(None, "01.1", tmp_path / "nowhere"))
    # 01.2: a directory where training worked, and a word in the wrong row
    assert "succeeded (there is no output/failure)" in said(exercises.check(None, "01.2", three))
    third_row = tmp_path / "third-row"
    third_row.mkdir()
    (third_row / "bad.csv").write_text("a,1,2\na,1,2\na,1,x\n")
    helpers.container.local_train(third_row, third_row / "bad.csv")
    assert "not the second row" in said(exercises.check(None, "01.2", third_row))


def test_02_data_wrong_answers(local):
    assert "S3Prefix" in said(exercises.check(local, "02.1", 150))
    copy = helpers.data.TRAINING_PREFIX + "iris-copy.csv"
    local.client("s3").upload_file(str(helpers.data.DATA_DIR / "iris.csv"), local.bucket, copy)
    try:
        assert "still in the training prefix" in said(exercises.check(local, "02.1", 300))
    finally:
        local.client("s3").delete_object(Bucket=local.bucket, Key=copy)
    assert exercises.check(local, "02.1", 300).passed
    assert "holds (or contains) the iris training data" in said(
        exercises.check(local, "02.2", helpers.data.training_uri(local)))
    assert "Nothing is stored under" in said(exercises.check(
        local, "02.2", helpers.data.training_uri(local, "sagemaker_bring_your_own/empty/")))


def test_03_job_name_wrong_answers(local, names):
    start_time = workflows.training_step(
        names, local, job_name="States.Format('byo-{}', $$.Execution.StartTime)")
    execution = run(local, workflows.workflow("exercise-03-test", start_time, names, local))
    feedback = said(exercises.check(local, "03.1", execution))
    assert "does not use $$.StateMachine.Name" in feedback and "ended FAILED" in feedback
    definition = workflows.definition(workflows.training(names, local))
    task = definition["States"]["SageMakerModelTraining"]["Parameters"]
    task["TrainingJobName"] = task.pop("TrainingJobName.$")  # the literal text, not evaluated
    execution = run_definition(local, "exercise-03-literal", definition)
    assert "the literal text" in said(exercises.check(local, "03.1", execution))


def test_03_hyperparameter_as_a_number(local, names):
    step = workflows.training_step(names, local)
    step.parameters["HyperParameters"] = {"max_leaf_nodes": 3}
    execution = run(local, workflows.workflow("exercise-03-test", step, names, local))
    assert "takes hyperparameters as strings only" in said(
        exercises.check(local, "03.2", execution))


def test_04_timeout_retry_on_states_all(local, names):
    step = workflows.training_step(names, local, job_name=workflows.DETAILED_JOB_NAME,
                                   timeout_seconds=60)
    step.add_retry(steps.Retry(**workflows.RETRY_SAGEMAKER_EXCEPTION))
    step.add_retry(steps.Retry(error_equals=["States.ALL"], interval_seconds=5, max_attempts=1))
    execution = run(local, workflows.workflow("exercise-04-test", step, names, local))
    assert ("Your Retry catches States.ALL; the task asked for States.Timeout only"
            in said(exercises.check(local, "04.1", execution)))
    no_timeout = workflows.training_step(names, local)
    no_timeout.add_retry(steps.Retry(error_equals=["States.Timeout"], max_attempts=1))
    execution = run(local, workflows.workflow("exercise-04-test", no_timeout, names, local))
    feedback = said(exercises.check(local, "04.1", execution))
    assert "has no TimeoutSeconds" in feedback and "Retry for SageMaker" in feedback
    # The document's job name: a retry after a timeout would collide with the job it timed out.
    assert "does not include $$.State.RetryCount" in feedback


def test_04_retrying_a_failed_job_without_the_retry_count(local, names):
    document = workflows.training_retry_notify(names, local).definition.branch
    document.steps[0].add_retry(steps.Retry(error_equals=["States.TaskFailed"],
                                            interval_seconds=1, max_attempts=1))
    execution = run(local, workflows.workflow("exercise-04-test", document, names, local),
                    bad_data=True)
    feedback = said(exercises.check(local, "04.2", execution))
    assert "does not include $$.State.RetryCount" in feedback
    assert "1 training job(s) ran" in feedback


def test_05_inputs_wrong_answers(local, names):
    arn = workflows.create_or_update(local, workflows.training_parameters(names, local))
    on_iris = helpers.inputs.start_validated(
        local, arn, helpers.inputs.training_input(local, "iris", {"max_leaf_nodes": "2"}))
    helpers.executions.wait(local, on_iris, timeout=120)
    assert "the wine data is under" in said(exercises.check(local, "05.1", on_iris))
    other_machine = run(local, workflows.training(names, local))
    assert "run the §3 state machine" in said(exercises.check(local, "05.1", other_machine))
    assert "one over SageMaker's 63" in said(exercises.check(local, "05.2", 39))
    assert "should be a whole number" in said(exercises.check(local, "05.2", "38"))


def test_06_gate_and_concurrency_wrong_answers(local, names):
    helpers.data.upload_split(local)
    gate = steps.Choice("Good enough?")
    gate.add_choice(steps.ChoiceRule.NumericGreaterThan(
        "$.MapResults[0].FinalMetricDataList[1].Value", 0.9), steps.Succeed("Accepted"))
    chain = workflows.train_multiple(names, local).definition.branch
    chain.append(gate)  # no Default
    execution = run(local, workflows.workflow("exercise-06-test", chain, names, local),
                    {"HyperparameterSets": [{"max_leaf_nodes": "2"}]})
    feedback = said(exercises.check(local, "06.1", execution))
    assert "NumericGreaterThanEquals" in feedback and "no Default" in feedback
    assert "by its name, not by its place in FinalMetricDataList" in feedback
    unlimited = workflows.train_multiple(names, local, max_concurrency=0).definition.branch
    execution = run(local, workflows.workflow("exercise-06-test", unlimited, names, local),
                    {"HyperparameterSets": [{"max_leaf_nodes": "2"}, {"max_leaf_nodes": "4"}]})
    assert "means *no limit*" in said(exercises.check(local, "06.2", execution))


def test_07_gate_and_endpoint_wrong_answers(local, names):
    helpers.data.upload_split(local)
    assert "is sagemaker-byo-endpoint in service?" in said(exercises.check(local, "07.2", 400))
    chain = workflows.train_and_host(names, local).definition.branch
    train, create_model = chain.steps[:2]
    train.parameters["HyperParameters"] = {"max_leaf_nodes": "2"}
    gate = steps.Choice("Accurate enough?")
    gate.add_choice(steps.ChoiceRule.NumericGreaterThanEquals(
        "$.FinalMetricDataList[0].Value", 0.9), create_model)  # the training accuracy
    gate.default_choice(steps.Fail("Not accurate enough"))
    train.next(gate)
    execution = run(local, workflows.workflow("exercise-07-test", chain, names, local))
    assert "Read validation:accuracy by its name" in said(
        exercises.check(local, "07.1", execution))
    deployed = run(local, workflows.train_and_host(names, local))
    try:
        assert helpers.executions.describe(local, deployed)["status"] == "SUCCEEDED"
        assert "the container's own status" in said(exercises.check(local, "07.2", 424))
        assert exercises.check(local, "07.2", 400).passed
    finally:
        helpers.hosting.delete_endpoint(local)


def test_10_winner_and_grid_wrong_answers(local, names):
    from sagemaker.tuner import IntegerParameter

    from helpers import scale_workflows
    helpers.data.upload_split(local)
    tuned = run(local, workflows.build("tuning", names, local))
    best = helpers.executions.output(helpers.executions.describe(local, tuned))["BestTrainingJob"]
    right = int(best["TunedHyperParameters"]["max_leaf_nodes"])
    assert "is not it" in said(exercises.check(local, "10.1", right + 100))
    assert "a number of leaves" in said(exercises.check(local, "10.1", "many"))
    assert exercises.check(local, "10.1", right).passed
    step = scale_workflows.tuning_step(names, local, max_jobs=1, max_parallel_jobs=1)
    step.parameters["HyperParameterTuningJobConfig"]["ParameterRanges"][
        "IntegerParameterRanges"] = [IntegerParameter(2, 4).as_tuning_range("max_leaf_nodes")]
    execution = run(local, workflows.workflow("exercise-10-test", steps.Chain([step]), names,
                                              local))
    feedback = said(exercises.check(local, "10.2", execution))
    assert "set strategy=\"Grid\"" in feedback and "categorical ranges only" in feedback


def test_11_strict_and_best_wrong_answers(local, names):
    from helpers import scale_workflows
    helpers.data.upload_split(local)
    scale_workflows.upload_hyperparameter_sets(local)
    tolerant = run(local, workflows.build("many-models", names, local))
    feedback = said(exercises.check(local, "11.1", tolerant))
    assert "still tolerates failures" in feedback and "ended SUCCEEDED" in feedback
    assert "No model of the newest run has 99 leaves" in said(exercises.check(local, "11.2", 99))
    assert "a smaller tree does as well" in said(exercises.check(local, "11.2", 32))
    assert "a number of leaves" in said(exercises.check(local, "11.2", "eight"))
    assert exercises.check(local, "11.2", 8).passed  # 8, 16 and 32 leaves tie on iris


def test_99_clean_up_wrong_answers(local):
    right = len(helpers.cleanup.series_training_jobs(local))
    assert "is not it" in said(exercises.check(local, "99.1", right + 1))
    assert exercises.check(local, "99.1", right).passed
    assert "differs from what plan(aws) finds" in said(exercises.check(local, "99.2", []))


# ---- reset -------------------------------------------------------------------------------------

def test_reset_puts_a_notebook_back_at_its_start(local, names):
    sfn = local.client("stepfunctions")
    own = run(local, workflows.training(names, local))
    exercise = run(local, workflows.workflow("exercise-03-mine", workflows.training_step(
        names, local), names, local))
    other = workflows.create_or_update(local, workflows.train_multiple(names, local))
    stray = helpers.data.TRAINING_PREFIX + "experiment.csv"
    local.client("s3").upload_file(str(helpers.data.DATA_DIR / "iris_malformed.csv"),
                                   local.bucket, stray)
    done = helpers.reset(local, "03")
    assert set(done["name"]) >= {"sagemaker-byo-training", "sagemaker-byo-exercise-03-mine",
                                 f"s3://{local.bucket}/{stray}"}
    machines = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert not machines & {"sagemaker-byo-training", "sagemaker-byo-exercise-03-mine"}
    assert "sagemaker-byo-train-multiple" in machines, "another notebook's state stays"
    assert list(helpers.data.list_objects(local, helpers.data.TRAINING_PREFIX)["object"]) == [
        f"s3://{local.bucket}/{helpers.data.TRAINING_PREFIX}iris.csv"]
    recreated = workflows.create_or_update(local, workflows.training(names, local))
    assert sfn.list_executions(stateMachineArn=recreated)["executions"] == []
    for gone in (own, exercise):
        with pytest.raises(sfn.exceptions.ClientError):
            sfn.describe_execution(executionArn=gone)
    sfn.delete_state_machine(stateMachineArn=other)


def test_reset_of_04_disarms_faults_and_empties_the_inbox(local):
    with helpers.faults.injected(local, "CreateTrainingJob", "ThrottlingException", times=3):
        local.client("sns").publish(TopicArn=workflows.Names.from_aws(local).topic_arn,
                                    Message="an old alert")
        done = helpers.reset(local, "04")
        assert helpers.faults.active(local) == []
    assert "emptied (1 alert(s))" in set(done["done"])
    assert helpers.alerts.receive(local, timeout=0).empty


def test_reset_names_the_notebooks_it_knows():
    with pytest.raises(ValueError, match="notebook must be one of 00, 01"):
        helpers.reset(None, "4")


# ---- make workshop -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workshop_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("workshop")
    workshop.build(out)
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_copies_have_no_solutions_and_no_outputs(workshop_dir, path):
    source = nbformat.read(path, as_version=4)
    student = nbformat.read(workshop_dir / "student" / path.name, as_version=4)
    assert not [cell for cell in student.cells if "solution" in tags(cell)]
    assert all(not cell.outputs and cell.execution_count is None
               for cell in student.cells if cell.cell_type == "code")
    kept = [cell.source for cell in source.cells if "solution" not in tags(cell)]
    assert [cell.source for cell in student.cells] == kept
    assert len([c for c in student.cells if "exercise" in tags(c)]) >= 2
    assert "solution" not in json.dumps([c.source for c in student.cells]).lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_instructor_copies_have_everything_and_the_notes(workshop_dir, path):
    source = nbformat.read(path, as_version=4)
    instructor = nbformat.read(workshop_dir / "instructor" / path.name, as_version=4)
    assert [cell.source for cell in instructor.cells[1:]] == [c.source for c in source.cells]
    notes = instructor.cells[0].source
    assert notes.startswith("**Instructor notes**") and "min to teach" in notes
    assert "Where learners get stuck" in notes
    solutions = [c for c in instructor.cells if "solution" in tags(c) and c.cell_type == "code"]
    assert solutions and all(not c.metadata.get("jupyter", {}).get("source_hidden")
                             for c in solutions)


def test_the_plan_and_agenda_cover_the_series_in_two_hours(workshop_dir):
    plan = (workshop_dir / "instructor" / "PLAN.md").read_text()
    agenda = (workshop_dir / "agenda.html").read_text()
    for path in NOTEBOOKS:
        title = workshop.title(nbformat.read(path, as_version=4))
        assert f"## {title}" in plan
        assert f"<td>{path.name[:2]}</td><td>{title.split(' · ', 1)[1]}</td>" in agenda
    rows = workshop.schedule(workshop.load_plan(), {p.name[:2]: "" for p in NOTEBOOKS})
    hours, minutes = map(int, rows[-1][0].split(":"))
    assert rows[-1][2] == "End" and hours * 60 + minutes <= 120
    assert "<script" not in agenda and "http" not in agenda  # a page that prints offline


def test_a_plan_missing_a_notebook_is_refused(tmp_path):
    plan = workshop.PLAN_FILE.read_text()
    shortened = plan[:plan.rindex("[[notebook]]")]  # drops 99
    (tmp_path / "plan.toml").write_text(shortened)
    with pytest.raises(ValueError, match="no entry for 99_clean_up.ipynb"):
        workshop.load_plan(tmp_path / "plan.toml")
