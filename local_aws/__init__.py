"""The embedded local AWS: moto, extended with a SageMaker that runs the container's programs.

- `server.LocalAwsServer`: the server (moto + our SageMaker), in a thread or as a process.
- `control`: start/stop/status of the server process (`python -m helpers local ...`).
- `sagemaker.LocalSageMaker`: training jobs as local processes.
- `stepfunctions_sagemaker`: the `arn:aws:states:::sagemaker:*` integration for moto's interpreter.
- `images`: local container images (an ECR image naming a directory of programs).
"""
