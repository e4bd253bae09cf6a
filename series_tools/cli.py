"""Command line: the local AWS, workflow definitions, running the series, and the
workshop copies."""
from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from helpers import config


def _local(args) -> int:
    from helpers.aws import start_local
    from local_aws import control
    settings = config.settings()
    if args.action == "start":
        info = start_local(settings, quiet=True)
        print(f"Local AWS running at {info.url} (pid {info.pid}, port {info.port}, "
              f"log {info.log})")
    elif args.action == "env":
        print(local_env(settings, start_local(settings, quiet=True).url))
    elif args.action == "stop":
        info = control.stop(settings.state_dir)
        print(f"Stopped the local AWS (pid {info.pid})." if info
              else "The local AWS is not running.")
    else:
        info = control.status(settings.state_dir)
        if not info:
            print("The local AWS is not running. Start it with: python -m helpers local start")
            return 3
        print(f"Local AWS running at {info.url} (pid {info.pid}, port {info.port}, since "
              f"{info.started}, log {info.log})")
    return 0


def local_env(settings, url: str) -> str:
    """Shell lines that point the AWS CLI, the SDKs and any boto3 script at the local AWS, signed
    with its own key pair: eval "$(python -m helpers local env)". A profile or session token
    set in the shell would override or spoil those keys, so they are unset."""
    from local_aws import control
    credentials = control.credentials(settings.state_dir)
    values = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": credentials.access_key_id,
              "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
              "AWS_DEFAULT_REGION": settings.region, "AWS_REGION": settings.region,
              # botocore would send Step Functions' TestState to sync-127.0.0.1 (see aws.py)
              "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
    lines = [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    return "\n".join(["unset AWS_PROFILE AWS_SESSION_TOKEN", *lines])


def _asl(args) -> int:
    from helpers import workflows
    overrides = {"account_id": args.account, "region": args.region, "bucket": args.bucket,
                 "topic": args.topic}
    aws = None
    if all(overrides.values()):
        names = workflows.Names(**overrides)  # fully specified: no need to ask any AWS
    else:
        from helpers.aws import connect
        aws = connect(quiet=True)
        names = workflows.Names.from_aws(aws).with_overrides(**overrides)
    if args.workflow not in workflows.BUILDERS:
        print(f"error: unknown workflow {args.workflow!r}; one of: "
              f"{', '.join(sorted(workflows.BUILDERS))}")
        return 2
    print(json.dumps(workflows.definition(workflows.build(args.workflow, names, aws)), indent=2))
    return 0


def _cleanup(args) -> int:
    from helpers import cleanup
    from helpers.aws import connect
    aws = connect(quiet=True)
    items = cleanup.plan(aws)
    if not items:
        print(f"Nothing of the series' is left on {aws.describe()}.")
        return 0
    print(f"On {aws.describe()}, the series made:")
    print(cleanup.as_table(items).to_string(index=False))
    if not aws.settings.is_local and not args.yes:
        if input(f"Delete these {len(items)} resources? [y/N] ").strip().lower() != "y":
            print("Nothing deleted.")
            return 1
    print(cleanup.delete(aws, items).to_string(index=False))
    left = cleanup.plan(aws)
    print("Verified: nothing is left." if not left else
          "Still there:\n" + cleanup.as_table(left).to_string(index=False))
    return 0 if not left else 1


def _tutorial(args) -> int:
    from . import series
    return series.run(keep_running=args.keep_running, solutions=args.with_solutions)


def _workshop(args) -> int:
    from . import workshop
    written = workshop.build(Path(args.directory).resolve())
    for what, path in written.items():
        print(f"{what:>10}: {_shown(path)}")
    print(f"Students open their copies with: make lab LAB_DIR={_shown(written['student'])}")
    return 0


def _export(args) -> int:
    from . import export
    written = export.export(Path(args.directory).resolve())
    for path in written:
        print(_shown(path))
    print(f"{len(written)} files. Deploy one with: aws cloudformation deploy --template-file "
          "<workflow>.template.json --stack-name <name> --capabilities CAPABILITY_IAM")
    return 0


def _shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="start, stop or inspect the local AWS; `env` "
                                "prints the shell lines that point other tools at it")
    local.add_argument("action", choices=["start", "stop", "status", "env"])
    local.set_defaults(run=_local)

    asl = commands.add_parser("asl", help="print a workflow's definition (Amazon States Language)")
    asl.add_argument("workflow", help="the workflow's name, e.g. training")
    asl.add_argument("--account", help="account id (default: from STS)")
    asl.add_argument("--region", help="region (default: the configured one)")
    asl.add_argument("--bucket", help="S3 bucket (default: the configured one)")
    asl.add_argument("--topic", help="SNS topic name (default: the configured one)")
    asl.set_defaults(run=_asl)

    clean = commands.add_parser("cleanup", help="delete everything the series made, then verify")
    clean.add_argument("--yes", action="store_true",
                       help="on AWS, delete without asking (locally it never asks)")
    clean.set_defaults(run=_cleanup)

    tutorial = commands.add_parser("tutorial", help="run every notebook in order (make tutorial)")
    tutorial.add_argument("--keep-running", action="store_true",
                          help="leave the local AWS running afterwards")
    tutorial.add_argument("--with-solutions", action="store_true",
                          help="also run the exercises' worked solutions (an instructor's copy)")
    tutorial.set_defaults(run=_tutorial)

    workshop = commands.add_parser("workshop", help="student and instructor copies, the plan "
                                   "and a printable agenda (make workshop)")
    workshop.add_argument("directory", nargs="?", default="build/workshop",
                          help="where to write them (default: build/workshop)")
    workshop.set_defaults(run=_workshop)

    export = commands.add_parser("export", help="each workflow as ASL and as a CloudFormation "
                                 "template with its roles, topic and bucket")
    export.add_argument("directory", nargs="?", default="build/export",
                        help="where to write them (default: build/export)")
    export.set_defaults(run=_export)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except config.ConfigError as error:
        parser.exit(2, f"error: {error}\n")
