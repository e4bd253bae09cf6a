"""Notebooks 08-09's resources are cleaned up with the series' (helpers.cleanup): the series'
batch transform and processing job log streams are planned and deleted, others' are left."""
import helpers


def test_cleanup_plans_and_deletes_the_series_transform_and_processing_logs(local):
    logs = local.client("logs")
    streams = {"/aws/sagemaker/TransformJobs": ["byo-batch-run-1/i-1", "someone-else/i-2"],
               "/aws/sagemaker/ProcessingJobs": ["byo-eval-run-1/algo-1-1"]}
    for group, names in streams.items():
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        for name in names:
            logs.create_log_stream(logGroupName=group, logStreamName=name)
    planned = [name for kind, name in helpers.cleanup.plan(local) if kind == "log stream"]
    assert "/aws/sagemaker/TransformJobs:byo-batch-run-1/i-1" in planned
    assert "/aws/sagemaker/ProcessingJobs:byo-eval-run-1/algo-1-1" in planned
    assert not [name for name in planned if "someone-else" in name]
    done = helpers.cleanup.delete(local, [("log stream", name) for name in planned
                                          if "byo-batch-run-1" in name or "byo-eval" in name])
    assert set(done["outcome"]) == {"deleted"}
    left = [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs")["logStreams"]]
    assert "someone-else/i-2" in left  # other streams (other tests' jobs) may be there too
    assert not [name for name in left if "byo-batch-run-1" in name]
