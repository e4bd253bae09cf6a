"""SageMaker hosting, locally: models, endpoint configurations and endpoints, where an endpoint is
the image's `serve` program on a free loopback port.

As on AWS, where a learner can observe it:
- CreateEndpoint answers at once with the endpoint `Creating`; it becomes `InService` when the
  container answers GET /ping, or `Failed` (with FailureReason) when it does not in time.
- UpdateEndpoint (`Updating`) starts the new model first and switches traffic only when it
  answers /ping; the old one stops after its last request, so no request fails during the switch.
  A failed update leaves the endpoint `InService` on its previous configuration, with the reason.
- InvokeEndpoint (sagemaker-runtime) passes the body and content type through; a container that
  answers with an error comes back as AWS's `ModelError` (HTTP 424) with its status and message.
- The container's output goes to CloudWatch Logs, group /aws/sagemaker/Endpoints/<endpoint>.
"""
from __future__ import annotations

import datetime as dt
import http.client
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .images import ImageNotFound, resolve_program_dir
from .programs import Program
from .s3files import UnsafePath, client_error, extract_archive, parse_uri
from .sagemaker import CloudWatchLog, SageMakerError, check_name, now, validation_error

INVOCATION_LIMIT_BYTES = 6 * 1024 * 1024  # SageMaker's real-time payload limit
INVOCATION_TIMEOUT_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ModelError(SageMakerError):
    """InvokeEndpoint's ModelError: the container answered with an error."""

    def __init__(self, original_status: int, original_message: str, endpoint: str, region: str,
                 account_id: str):
        kind = "client" if original_status < 500 else "server"
        log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
        super().__init__("ModelError", (
            f"Received {kind} error ({original_status}) from primary with message "
            f"\"{original_message}\". See the log group {log_group} in account {account_id} for "
            "more information."), 424)
        self.extra = {"OriginalStatusCode": original_status, "OriginalMessage": original_message,
                      "LogStreamArn": f"arn:aws:logs:{region}:{account_id}:log-group:{log_group}"}


class Variant:
    """One running copy of a model: the `serve` program, its model files and its log."""

    def __init__(self, endpoint: str, variant_name: str, program_dir: Path, model_archive: Path,
                 environment: dict, work_root: Path, logs, log_group: str | None = None,
                 model_data_url: str = ""):
        """`endpoint` names the endpoint (or the batch transform job) the copy serves; its log
        goes to `log_group` (default: the endpoint's, /aws/sagemaker/Endpoints/<endpoint>)."""
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{endpoint}-", dir=work_root))
        model_dir = self.workdir / "model"
        model_dir.mkdir()
        try:
            extract_archive(model_archive, model_dir,
                            f"The model data archive '{model_data_url}'")
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.in_flight = 0
        self._lock = threading.Condition()
        # One HTTP connection to `serve` per thread of the local AWS (its server answers each
        # client connection on a thread of its own), kept alive when `serve` keeps it open.
        self._connections = threading.local()
        self.log = CloudWatchLog(logs, log_group or f"/aws/sagemaker/Endpoints/{endpoint}",
                                 f"{variant_name}/i-{self.port}")
        self.program = Program(program_dir, "serve", self.workdir, {
            **environment, "SAGEMAKER_BIND_TO_PORT": str(self.port),
            "SERVE_BIND_HOST": "127.0.0.1",
            "MODEL_SERVER_WORKERS": os.environ.get("TUTORIAL_LOCAL_SERVE_WORKERS", "1")})
        threading.Thread(target=self.log.follow, args=(self.program.lines(),),
                         daemon=True).start()

    def wait_healthy(self, timeout: float) -> str | None:
        """None once /ping answers 200; otherwise why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.program.running():
                return f"the container exited with code {self.program.returncode}"
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as response:
                    if response.status == 200:
                        return None
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.05)
        return f"/ping did not answer 200 within {timeout:.0f} s"

    def invoke(self, body: bytes, content_type: str, accept: str | None):
        with self._lock:
            self.in_flight += 1
        try:
            headers = {"Content-Type": content_type}
            if accept:
                headers["Accept"] = accept
            return self._post("/invocations", body, headers)
        finally:
            with self._lock:
                self.in_flight -= 1
                self._lock.notify_all()

    def _post(self, path: str, body: bytes, headers: dict) -> tuple[int, bytes, str]:
        """POST on this thread's connection: (status, body, content type). If a connection kept
        open from an earlier request turns out closed by `serve` meanwhile (it answers nothing),
        the request goes once more on a new one; any other failure is the caller's."""
        connection = getattr(self._connections, "current", None)
        reused = connection is not None and connection.sock is not None
        if connection is None:
            connection = self._connections.current = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=INVOCATION_TIMEOUT_SECONDS)
        try:
            connection.request("POST", path, body=body, headers=headers)
            reply = connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            connection.close()
            if not reused:
                raise
            connection.request("POST", path, body=body, headers=headers)
            reply = connection.getresponse()
        except Exception:
            connection.close()
            raise
        return reply.status, reply.read(), reply.getheader("Content-Type", "")

    def stop(self, drain_seconds: float = 30):
        """Stop after the requests in flight are answered (SIGTERM: gunicorn finishes them)."""
        with self._lock:
            self._lock.wait_for(lambda: self.in_flight == 0, timeout=drain_seconds)
        self.program.terminate(grace_seconds=10, wait=True)
        self.log.flush()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class Endpoint:
    name: str
    arn: str
    config_name: str
    region: str
    status: str = "Creating"
    failure_reason: str | None = None
    creation_time: dt.datetime = field(default_factory=now)
    last_modified_time: dt.datetime = field(default_factory=now)
    variant: Variant | None = None
    variant_name: str = "AllTraffic"
    image: str = ""
    deleted: bool = False

    def describe(self) -> dict:
        out = {"EndpointName": self.name, "EndpointArn": self.arn,
               "EndpointConfigName": self.config_name, "EndpointStatus": self.status,
               "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time}
        if self.variant:
            out["ProductionVariants"] = [{
                "VariantName": self.variant_name, "CurrentWeight": 1.0, "DesiredWeight": 1.0,
                "CurrentInstanceCount": 1, "DesiredInstanceCount": 1,
                "DeployedImages": [{"SpecifiedImage": self.image, "ResolvedImage": self.image}]}]
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        return out


class LocalHosting:
    def __init__(self, clients, account_id: str, work_root: Path, ping_timeout: float = 60):
        self._clients = clients
        self.account_id = account_id
        self._work_root = Path(work_root)
        self._ping_timeout = float(os.environ.get("TUTORIAL_LOCAL_PING_TIMEOUT", ping_timeout))
        self._models: dict[tuple, dict] = {}
        self._configs: dict[tuple, dict] = {}
        self._endpoints: dict[tuple, Endpoint] = {}
        self._lock = threading.Lock()

    def _arn(self, region: str, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{region}:{self.account_id}:{kind}/{name.lower()}"

    # ---- models ----------------------------------------------------------------------------

    def create_model(self, request: dict, region: str) -> dict:
        name = request.get("ModelName")
        check_name(name, "modelName")
        container = request.get("PrimaryContainer") or {}
        if not container.get("Image") or not container.get("ModelDataUrl"):
            raise validation_error("PrimaryContainer needs an Image and a ModelDataUrl.")
        try:
            resolve_program_dir(self._clients("ecr", region), container["Image"])
        except ImageNotFound as error:
            raise validation_error(str(error)) from None
        arn = self._arn(region, "model", name)
        with self._lock:
            if (region, name) in self._models:
                raise validation_error(f'Cannot create already existing model "{arn}".')
            self._models[(region, name)] = {
                "ModelName": name, "ModelArn": arn, "PrimaryContainer": container,
                "ExecutionRoleArn": request.get("ExecutionRoleArn", ""),
                "CreationTime": now()}
        return {"ModelArn": arn}

    def describe_model(self, request: dict, region: str) -> dict:
        return dict(self._get(self._models, region, request.get("ModelName"), "model"))

    def delete_model(self, request: dict, region: str) -> dict:
        self._get(self._models, region, request.get("ModelName"), "model")
        with self._lock:
            del self._models[(region, request["ModelName"])]
        return {}

    def list_models(self, request: dict, region: str) -> dict:
        return {"Models": [{k: m[k] for k in ("ModelName", "ModelArn", "CreationTime")}
                           for m in self._listed(self._models, region, request, "ModelName")]}

    # ---- endpoint configurations -----------------------------------------------------------

    def create_endpoint_config(self, request: dict, region: str) -> dict:
        name = request.get("EndpointConfigName")
        check_name(name, "endpointConfigName")
        variants = request.get("ProductionVariants") or []
        if len(variants) != 1:
            raise validation_error("The local backend supports exactly one production variant.")
        model = variants[0].get("ModelName")
        if (region, model) not in self._models:
            raise validation_error(f'Could not find model "{self._arn(region, "model", model)}".')
        arn = self._arn(region, "endpoint-config", name)
        with self._lock:
            if (region, name) in self._configs:
                raise validation_error(
                    f'Cannot create already existing endpoint configuration "{arn}".')
            self._configs[(region, name)] = {
                "EndpointConfigName": name, "EndpointConfigArn": arn,
                "ProductionVariants": variants, "CreationTime": now()}
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, request: dict, region: str) -> dict:
        return dict(self._get(self._configs, region, request.get("EndpointConfigName"),
                              "endpoint configuration"))

    def delete_endpoint_config(self, request: dict, region: str) -> dict:
        self._get(self._configs, region, request.get("EndpointConfigName"),
                  "endpoint configuration")
        with self._lock:
            del self._configs[(region, request["EndpointConfigName"])]
        return {}

    def list_endpoint_configs(self, request: dict, region: str) -> dict:
        return {"EndpointConfigs": [
            {k: c[k] for k in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")}
            for c in self._listed(self._configs, region, request, "EndpointConfigName")]}

    # ---- endpoints -------------------------------------------------------------------------

    def create_endpoint(self, request: dict, region: str) -> dict:
        name = request.get("EndpointName")
        check_name(name, "endpointName")
        config = self._config_for(request.get("EndpointConfigName"), region)
        arn = self._arn(region, "endpoint", name)
        with self._lock:
            if (region, name) in self._endpoints:
                raise validation_error(f'Cannot create already existing endpoint "{arn}".')
            endpoint = Endpoint(name=name, arn=arn, config_name=config["EndpointConfigName"],
                                region=region)
            self._endpoints[(region, name)] = endpoint
        threading.Thread(target=self._deploy, args=(endpoint, config, False), daemon=True,
                         name=f"endpoint-{name}").start()
        return {"EndpointArn": arn}

    def update_endpoint(self, request: dict, region: str) -> dict:
        endpoint = self._endpoint(request.get("EndpointName"), region)
        config = self._config_for(request.get("EndpointConfigName"), region)
        with self._lock:
            if endpoint.status != "InService":
                raise validation_error(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            endpoint.status, endpoint.last_modified_time = "Updating", now()
        threading.Thread(target=self._deploy, args=(endpoint, config, True), daemon=True,
                         name=f"endpoint-{endpoint.name}").start()
        return {"EndpointArn": endpoint.arn}

    def describe_endpoint(self, request: dict, region: str) -> dict:
        # As SageMaker: a malformed name is refused before any lookup, so "Could not find
        # endpoint" always means a well-formed name that does not exist (§5 routes on it).
        check_name(request.get("EndpointName"), "endpointName")
        return self._endpoint(request.get("EndpointName"), region).describe()

    def delete_endpoint(self, request: dict, region: str) -> dict:
        endpoint = self._endpoint(request.get("EndpointName"), region)
        with self._lock:
            del self._endpoints[(region, endpoint.name)]
            endpoint.deleted = True
            variant, endpoint.variant = endpoint.variant, None
        if variant:
            variant.stop()
        return {}

    def list_endpoints(self, request: dict, region: str) -> dict:
        endpoints = [e for (r, _), e in list(self._endpoints.items()) if r == region]
        contains, status = request.get("NameContains"), request.get("StatusEquals")
        return {"Endpoints": [
            {"EndpointName": e.name, "EndpointArn": e.arn, "CreationTime": e.creation_time,
             "LastModifiedTime": e.last_modified_time, "EndpointStatus": e.status}
            for e in endpoints if (not contains or contains in e.name)
            and (not status or e.status == status)]}

    def invoke(self, name: str, region: str, body: bytes, content_type: str,
               accept: str | None):
        endpoint = self._endpoints.get((region, name))
        if endpoint is None:
            raise validation_error(f"Endpoint {name} of account {self.account_id} not found.")
        variant = endpoint.variant  # read once: an update may swap it while we answer
        if variant is None or endpoint.status not in ("InService", "Updating"):
            raise validation_error(f"Endpoint {name} is not in service (status "
                                   f"{endpoint.status}).")
        if len(body) > INVOCATION_LIMIT_BYTES:
            raise validation_error(f"Request payload of {len(body)} bytes is over the "
                                   f"{INVOCATION_LIMIT_BYTES} byte limit of real-time "
                                   "inference.")
        status, payload, reply_type = variant.invoke(body, content_type or "application/json",
                                                     accept)
        if status >= 400:
            raise ModelError(status, payload.decode("utf-8", errors="replace").strip(), name,
                             region, self.account_id)
        return payload, reply_type, endpoint.variant_name

    def shutdown(self):
        for endpoint in list(self._endpoints.values()):
            if endpoint.variant:
                endpoint.variant.stop(drain_seconds=0)

    def running_programs(self) -> int:
        return sum(1 for e in list(self._endpoints.values())
                   if e.variant and e.variant.program.running())

    # ---- internals -------------------------------------------------------------------------

    def _get(self, store: dict, region: str, name, kind: str) -> dict:
        item = store.get((region, name))
        if item is None:
            raise validation_error(f"Could not find {kind} \"{name}\".")
        return item

    @staticmethod
    def _listed(store: dict, region: str, request: dict, name_key: str) -> list:
        contains = request.get("NameContains")
        return [item for (r, _), item in list(store.items())
                if r == region and (not contains or contains in item[name_key])]

    def _config_for(self, name, region: str) -> dict:
        config = self._configs.get((region, name))
        if config is None:
            raise validation_error("Could not find endpoint configuration "
                                   f"\"{self._arn(region, 'endpoint-config', str(name))}\".")
        return config

    def _endpoint(self, name, region: str) -> Endpoint:
        endpoint = self._endpoints.get((region, name))
        if endpoint is None:
            # SageMaker's own words, ARN included (its API reference documents no error for
            # DescribeEndpoint; this is what the service answers).
            raise validation_error(
                f'Could not find endpoint "{self._arn(region, "endpoint", str(name))}".')
        return endpoint

    def model(self, name: str, region: str) -> dict | None:
        """A model's description, or None: for the jobs that use models (batch transform)."""
        return self._models.get((region, name))

    def start_model(self, model: dict, region: str, serving: str, variant_name: str,
                    environment: dict | None = None, log_group: str | None = None) -> Variant:
        """Start a model's `serve` program, as an endpoint (or a batch transform job, `serving`
        names which) runs it: the model archive from S3 unpacked into its /opt/ml/model, the
        container's environment with `environment` on top. Returns once it has started; the
        caller waits for /ping (`Variant.wait_healthy`) and stops it."""
        container = model["PrimaryContainer"]
        program_dir = resolve_program_dir(self._clients("ecr", region), container["Image"])
        bucket, key = parse_uri(container["ModelDataUrl"])
        with tempfile.TemporaryDirectory(dir=self._work_root) as download:
            archive = Path(download) / "model.tar.gz"
            self._clients("s3", region).download_file(bucket, key, str(archive))
            return Variant(serving, variant_name, program_dir, archive,
                           {**(container.get("Environment") or {}), **(environment or {})},
                           self._work_root, self._clients("logs", region), log_group,
                           container["ModelDataUrl"])

    def _start_variant(self, endpoint: Endpoint, config: dict) -> tuple[Variant, str]:
        variant_spec = config["ProductionVariants"][0]
        model = self._models.get((endpoint.region, variant_spec["ModelName"]))
        if model is None:
            raise RuntimeError(f"model {variant_spec['ModelName']} no longer exists")
        variant = self.start_model(model, endpoint.region, endpoint.name,
                                   variant_spec.get("VariantName", "AllTraffic"))
        return variant, model["PrimaryContainer"]["Image"]

    def _deploy(self, endpoint: Endpoint, config: dict, update: bool):
        variant = reason = None
        try:
            variant, image = self._start_variant(endpoint, config)
            problem = variant.wait_healthy(self._ping_timeout)
        except UnsafePath as error:  # a hostile archive: SageMaker's ClientError, not a ping
            problem = reason = client_error("Failed to extract model data archive", error)
        except Exception as error:  # noqa: BLE001 - any fault ends in Failed, never a hang
            problem = f"the model could not be deployed: {error}"
        if problem and not reason:
            reason = (f"The primary container for production variant "
                      f"{config['ProductionVariants'][0].get('VariantName', 'AllTraffic')} did "
                      f"not pass the ping health check: {problem}. Please check CloudWatch logs "
                      "for this endpoint.")
        with self._lock:
            if endpoint.deleted:  # deleted while it was starting
                old = None
            elif problem:
                old = None
                endpoint.failure_reason = reason
                endpoint.status = "InService" if update else "Failed"  # an update rolls back
            else:
                old, endpoint.variant = endpoint.variant, variant
                endpoint.config_name = config["EndpointConfigName"]
                endpoint.variant_name = config["ProductionVariants"][0].get("VariantName",
                                                                             "AllTraffic")
                endpoint.image, endpoint.failure_reason = image, None
                endpoint.status = "InService"
            endpoint.last_modified_time = now()
        if (problem or endpoint.deleted) and variant:
            variant.stop(drain_seconds=0)
        if old:
            old.stop()
