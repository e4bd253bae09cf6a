"""Who may use the local AWS: requests signed (AWS Signature Version 4) with its own key pair.

On a shared machine (a JupyterHub, a lab server) every user can reach every other user's loopback
ports, and an image in the local ECR names a directory of programs the server runs: a server that
trusted whoever connects would run anyone's program as the learner. So the server makes a random
key pair when its state directory is first used, keeps it in `<state dir>/credentials.json` (the
directory 0700, the file 0600: readable by its owner alone), and answers only requests signed with
it. `helpers.connect()` and `python -m helpers local env` read it from there.

The signature is recomputed with botocore's own signer (`SigV4Auth`, `S3SigV4Auth`) from the
request as received — the signed headers, the query, the body's hash — and compared in constant
time; the key id alone proves nothing. Handled as AWS does: signatures in the Authorization header
or in the query (S3 presigned URLs), S3's `UNSIGNED-PAYLOAD` and streaming uploads (each chunk's
signature checked for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`), and 15 minutes of clock skew.

Refusals are AWS's, per protocol (`refusal_response`):
- JSON protocols (SageMaker, Step Functions, CloudWatch Logs, ECR, SQS): `UnrecognizedClientException`,
  HTTP 403 (https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html);
- query protocols (IAM, STS, SNS): `InvalidClientTokenId`, HTTP 403
  (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html);
- S3: `InvalidAccessKeyId`, HTTP 403, XML
  (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html);
- a known key with a wrong signature: `SignatureDoesNotMatch`, HTTP 403
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html);
- a request more than 15 minutes off: `RequestExpired` (400, common errors) or, on S3,
  `RequestTimeTooSkewed` (403); an expired presigned URL: S3's `AccessDenied` (403);
- no signature at all: `MissingAuthenticationToken` (403, common errors), S3's `AccessDenied`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import stat
import string
import threading
import uuid
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import SIGV4_TIMESTAMP, HmacV1Auth, S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

CREDENTIALS_FILE = "credentials.json"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)  # AWS's (RequestExpired in the common errors)
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600  # X-Amz-Expires may be at most 7 days
ADMIN_SERVICE = "local-aws"  # the credential scope's service for the admin API
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)\s*$")
# S3 payload hashes that are not the body's hash (sigv4-auth-using-authorization-header).
UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
SIGNED_STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


# ---- the key pair and the state directory ------------------------------------------------

@dataclass(frozen=True)
class LocalCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)

    def for_boto3(self) -> dict:
        """As boto3.Session(...) / client(...) keyword arguments."""
        return {"aws_access_key_id": self.access_key_id,
                "aws_secret_access_key": self.secret_access_key}

    def for_botocore(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key)


def secure_state_dir(state_dir: Path) -> Path:
    """Create the state directory owner-only (0700), or make an existing one so. One that belongs
    to someone else is refused: whoever made it could read what the server keeps there."""
    state_dir = Path(state_dir)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = state_dir.stat()
    if info.st_uid != os.getuid():
        raise PermissionError(f"The local AWS's state directory {state_dir} belongs to another "
                              "user; choose another one with TUTORIAL_STATE_DIR.")
    if stat.S_IMODE(info.st_mode) != 0o700:
        state_dir.chmod(0o700)
    return state_dir


def owner_only_file(path: Path):
    """Make an existing file readable and writable by its owner alone (0600)."""
    if path.exists() and stat.S_IMODE(path.stat().st_mode) != 0o600:
        path.chmod(0o600)


def _new_credentials() -> LocalCredentials:
    # AWS's shapes: a 20-character key id (AKIA... on AWS; LKIA here: Local) and a 40-character
    # secret. 16 characters of base 32 and 30 random bytes: nothing to guess.
    alphabet = string.ascii_uppercase + "234567"
    key_id = "LKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    return LocalCredentials(key_id, secrets.token_urlsafe(30))


def load_credentials(state_dir: Path) -> LocalCredentials | None:
    try:
        data = json.loads((Path(state_dir) / CREDENTIALS_FILE).read_text())
        return LocalCredentials(data["aws_access_key_id"], data["aws_secret_access_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_credentials(state_dir: Path) -> LocalCredentials:
    """The state directory's key pair, made (0600, in a 0700 directory) if there is none yet.
    A key file that others could read is replaced: its secret may be known."""
    state_dir = secure_state_dir(state_dir)
    path = state_dir / CREDENTIALS_FILE
    if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.unlink()
    existing = load_credentials(state_dir)
    if existing:
        return existing
    made = _new_credentials()
    tmp = state_dir / f".{CREDENTIALS_FILE}.{uuid.uuid4().hex}"
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(made.for_boto3(), file)
    try:
        os.link(tmp, path)  # atomic, and never replaces a pair another process just made
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return load_credentials(state_dir)


# Which credentials sign requests to which local AWS, in this process: the server registers
# itself when it starts; control.status registers a server it finds. Clients that know only a
# URL (the admin API's) look it up here.
_known: dict[str, LocalCredentials] = {}
_known_lock = threading.Lock()


def remember(url: str, credentials: LocalCredentials):
    with _known_lock:
        _known[url.rstrip("/")] = credentials


def credentials_for(url: str) -> LocalCredentials:
    with _known_lock:
        found = _known.get(url.rstrip("/"))
    if found is None:
        raise LookupError(f"No credentials known for the local AWS at {url}: find it first with "
                          "local_aws.control.status(state_dir) (or helpers.connect()).")
    return found


def signed_headers(credentials: LocalCredentials, method: str, url: str, body: bytes = b"",
                   headers: dict | None = None, region: str = "us-east-1",
                   service: str = ADMIN_SERVICE) -> dict:
    """Headers that sign a request with botocore's SigV4 signer (for the admin API's clients,
    which use urllib rather than boto3)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(credentials.for_botocore(), service, region).add_auth(request)
    return dict(request.headers.items())


# ---- checking a request ------------------------------------------------------------------

class Refused(Exception):
    """Why a request is not served. `kind` picks the protocol's error code (see ERRORS)."""

    def __init__(self, kind: str, detail: str = "", access_key_id: str = ""):
        super().__init__(kind)
        self.kind, self.detail, self.access_key_id = kind, detail, access_key_id


class _Verifier:
    """botocore's signer, fed with the request as received: only the headers the client signed,
    the query as sent (without the signature), the payload hash the client declared."""

    def __init__(self, credentials, service, region, headers, query_pairs, payload_hash):
        super().__init__(credentials, service, region)
        self._headers, self._query, self._payload = headers, query_pairs, payload_hash

    def headers_to_sign(self, request):
        return self._headers

    def canonical_query_string(self, request):
        return self._canonical_query_string_params(self._query)

    def payload(self, request):
        return self._payload


class _Verifier4(_Verifier, SigV4Auth):
    pass


class _VerifierS3(_Verifier, S3SigV4Auth):
    pass


class _VerifierS3V2(HmacV1Auth):
    """botocore's S3 Signature Version 2 signer (what boto3's generate_presigned_url makes for
    S3 by default), with the date (or the presigned URL's Expires) the request carries."""

    def __init__(self, credentials, date: str):
        super().__init__(credentials)
        self._date = date

    def _get_date(self):
        return self._date


def _header(environ: dict, name: str) -> str | None:
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return environ.get(key)
    return environ.get("HTTP_" + key)


def _raw_target(environ: dict) -> tuple[str, str]:
    """The path and query exactly as the client sent them (signatures cover the encoded form)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if raw.startswith(("http://", "https://")):
            parts = urlsplit(raw)
            return parts.path or "/", parts.query
        path, _, query = raw.partition("?")
        return path or "/", query
    return quote(environ.get("PATH_INFO", "/")), environ.get("QUERY_STRING", "")


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def read_body(environ: dict) -> bytes:
    """The request's body, read once; the WSGI input is replaced so the app reads it again."""
    cached = environ.get("local_aws.body")
    if cached is not None:
        return cached
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit():
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["local_aws.body"] = body
    return body


def _timestamp(value: str | None) -> dt.datetime:
    try:
        return dt.datetime.strptime(value or "", SIGV4_TIMESTAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        raise Refused("incomplete", "X-Amz-Date is missing or not in the form "
                                    "YYYYMMDDTHHMMSSZ.") from None


class SignatureChecker:
    """Checks that a WSGI request is signed with `credentials`; raises Refused otherwise."""

    def __init__(self, credentials: LocalCredentials, now=None):
        self.credentials = credentials
        self._now = now or (lambda: dt.datetime.now(dt.UTC))

    def check(self, environ: dict):
        path, query = _raw_target(environ)
        pairs = _query_pairs(query)
        params = dict(pairs)
        authorization = _header(environ, "authorization")
        if authorization:
            match = _AUTHORIZATION.match(authorization)
            v2 = re.match(r"^AWS ([^:\s]+):(\S+)$", authorization)
            if v2:
                return self._check_s3_v2(environ, path, query, v2.group(1), v2.group(2))
            if not match:
                key = re.search(r"Credential=([^/\s,]+)", authorization)
                self._check_key(key.group(1) if key else "")
                raise Refused("incomplete", "The Authorization header is not "
                                            "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., "
                                            "Signature=...")
            credential, signed, signature = match.group("credential", "signed", "signature")
            stamp = _header(environ, "x-amz-date")
            presigned = False
        elif params.get("AWSAccessKeyId") and "Signature" in params:
            return self._check_s3_v2(environ, path, query, params["AWSAccessKeyId"],
                                     params["Signature"], expires=params.get("Expires", ""))
        elif params.get("X-Amz-Algorithm"):
            if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
                raise Refused("incomplete", "X-Amz-Algorithm must be AWS4-HMAC-SHA256.")
            credential = params.get("X-Amz-Credential", "")
            signed = params.get("X-Amz-SignedHeaders", "")
            signature = params.get("X-Amz-Signature", "")
            stamp = params.get("X-Amz-Date")
            pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
            presigned = True
        else:
            raise Refused("missing")
        key_id, date, region, service, terminal = (credential.split("/") + [""] * 5)[:5]
        self._check_key(key_id)
        if terminal != "aws4_request" or not (date and region and service and signed):
            raise Refused("incomplete", f"The credential scope {credential!r} is not "
                                        "<key>/<date>/<region>/<service>/aws4_request.",
                          key_id)
        signed_at = _timestamp(stamp)
        if stamp[:8] != date:
            raise Refused("bad_signature", "The credential scope's date is not X-Amz-Date's.",
                          key_id)
        self._check_time(signed_at, params if presigned else None)
        headers = HTTPHeaders()
        for name in signed.split(";"):
            value = _header(environ, name)
            if value is None:
                raise Refused("bad_signature", f"The signed header {name!r} is not in the "
                                               "request.", key_id)
            headers[name] = value
        is_s3 = service == "s3"
        declared = headers.get("x-amz-content-sha256")
        if declared is None and is_s3 and presigned:
            payload_hash = "UNSIGNED-PAYLOAD"  # sigv4-query-string-auth: presigned URLs
        elif declared is not None:
            payload_hash = declared
        else:
            payload_hash = hashlib.sha256(read_body(environ)).hexdigest()
        verifier = (_VerifierS3 if is_s3 else _Verifier4)(
            self.credentials.for_botocore(), service, region, headers, pairs, payload_hash)
        request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"),
                             url=f"http://{headers.get('host', 'localhost')}{path}")
        request.context["timestamp"] = stamp
        expected = verifier.signature(
            verifier.string_to_sign(request, verifier.canonical_request(request)), request)
        if not hmac.compare_digest(expected, signature):
            raise Refused("bad_signature", access_key_id=key_id)
        if declared is None or declared in UNSIGNED_PAYLOADS:
            return
        if declared == SIGNED_STREAMING:
            self._check_chunks(read_body(environ), verifier, request, signature,
                               credential.split("/", 1)[1], key_id)
        elif _HEX64.match(declared):
            if hashlib.sha256(read_body(environ)).hexdigest() != declared:
                raise Refused("content_sha256_mismatch", access_key_id=key_id)
        else:
            raise Refused("incomplete", f"x-amz-content-sha256 {declared!r} is not supported "
                                        "by the local AWS.", key_id)

    def _check_s3_v2(self, environ, path, query, key_id, signature, expires=None):
        """S3's Signature Version 2: an `AWS <key>:<signature>` header, or a presigned URL's
        AWSAccessKeyId/Signature/Expires (sigv2 RESTAuthentication, S3 developer guide)."""
        self._check_key(key_id)
        now = self._now()
        if expires is not None:  # presigned: valid until Expires (epoch seconds)
            if not expires.isdigit():
                raise Refused("incomplete", "Expires must be a number of seconds.", key_id)
            if now.timestamp() > int(expires):
                raise Refused("expired", access_key_id=key_id)
            date = expires
        else:
            date = _header(environ, "x-amz-date") or _header(environ, "date") or ""
            try:
                signed_at = parsedate_to_datetime(date)
            except (TypeError, ValueError):
                raise Refused("incomplete", "The Date header is missing.", key_id) from None
            if abs(now - signed_at) > MAX_CLOCK_SKEW:
                raise Refused("skewed", access_key_id=key_id)
        headers = HTTPHeaders()
        for name in ("content-md5", "content-type"):
            if _header(environ, name):
                headers[name] = _header(environ, name)
        for key, value in environ.items():
            if key.startswith("HTTP_X_AMZ_"):
                headers[key[5:].lower().replace("_", "-")] = value
        if expires is None and "x-amz-date" in headers:
            date = ""  # the x-amz-date header stands in for Date in the string to sign
        kept = "&".join(part for part in query.split("&") if part.split("=", 1)[0] not in
                        ("AWSAccessKeyId", "Signature", "Expires"))
        verifier = _VerifierS3V2(self.credentials.for_botocore(), date)
        expected = verifier.get_signature(environ.get("REQUEST_METHOD", "GET"),
                                          urlsplit(f"http://local{path}?{kept}"),
                                          headers)
        if not hmac.compare_digest(expected, signature):
            raise Refused("bad_signature", access_key_id=key_id)

    def _check_key(self, key_id: str):
        if not hmac.compare_digest(key_id.encode(), self.credentials.access_key_id.encode()):
            raise Refused("unknown_key", access_key_id=key_id)

    def _check_time(self, signed_at: dt.datetime, presigned_params: dict | None):
        now = self._now()
        if presigned_params is None:
            if abs(now - signed_at) > MAX_CLOCK_SKEW:
                raise Refused("skewed", f"Signed at {signed_at:%Y%m%dT%H%M%SZ}; the time here "
                                        f"is {now:%Y%m%dT%H%M%SZ} (at most 15 minutes apart).")
            return
        expires = presigned_params.get("X-Amz-Expires", "")
        if not expires.isdigit() or not 1 <= int(expires) <= MAX_PRESIGNED_EXPIRES:
            raise Refused("incomplete", "X-Amz-Expires must be 1 to 604800 seconds.")
        if signed_at - now > MAX_CLOCK_SKEW:
            raise Refused("skewed", "The presigned URL's X-Amz-Date is in the future.")
        if now > signed_at + dt.timedelta(seconds=int(expires)):
            raise Refused("expired", "Request has expired")

    def _check_chunks(self, body: bytes, verifier, request, seed: str, scope: str, key_id: str):
        """S3 chunked upload (sigv4-streaming): each chunk is `<hex size>;chunk-signature=<sig>`
        CRLF data CRLF, signed over the previous chunk's signature; the last has no data."""
        position, previous = 0, seed
        while True:
            end = body.find(b"\r\n", position)
            header = body[position:end].decode("ascii", "replace") if end >= 0 else ""
            size_hex, _, extension = header.partition(";")
            name, _, chunk_signature = extension.partition("=")
            try:
                size = int(size_hex, 16)
            except ValueError:
                size = -1
            data = body[end + 2:end + 2 + size]
            if (end < 0 or size < 0 or name != "chunk-signature" or len(data) != size
                    or body[end + 2 + size:end + 4 + size] != b"\r\n"):
                raise Refused("incomplete", "The chunked body is not in the "
                                            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD format.", key_id)
            string_to_sign = "\n".join([
                "AWS4-HMAC-SHA256-PAYLOAD", request.context["timestamp"], scope, previous,
                EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
            if not hmac.compare_digest(verifier.signature(string_to_sign, request),
                                       chunk_signature):
                raise Refused("bad_signature", "A chunk's signature does not match.", key_id)
            previous, position = chunk_signature, end + 4 + size
            if size == 0:
                break
        if position != len(body):
            raise Refused("incomplete", "Data after the final chunk.", key_id)


# ---- AWS's answers -----------------------------------------------------------------------

_SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult "
                      "the service documentation for details.")
_UNKNOWN_KEY_MESSAGE = ("The security token included in the request is invalid: the X.509 "
                        "certificate or AWS access key ID provided does not exist in our records.")
_S3_SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you "
                         "provided. Check your key and signing method.")
_SKEWED_MESSAGE = "The difference between the request time and the current time is too large."
_HASH_MISMATCH_MESSAGE = ("The provided 'x-amz-content-sha256' header does not match what was "
                          "computed.")
# kind -> {protocol: (code, HTTP status, message)}; protocol is "json", "query" or "s3".
ERRORS = {
    "unknown_key": {"json": ("UnrecognizedClientException", 403, _UNKNOWN_KEY_MESSAGE),
                    "query": ("InvalidClientTokenId", 403, _UNKNOWN_KEY_MESSAGE),
                    "s3": ("InvalidAccessKeyId", 403,
                           "The AWS Access Key Id you provided does not exist in our records.")},
    "bad_signature": {"json": ("SignatureDoesNotMatch", 403, _SIGNATURE_MESSAGE),
                      "query": ("SignatureDoesNotMatch", 403, _SIGNATURE_MESSAGE),
                      "s3": ("SignatureDoesNotMatch", 403, _S3_SIGNATURE_MESSAGE)},
    "missing": {"json": ("MissingAuthenticationToken", 403,
                         "The request must contain a valid (registered) AWS access key ID."),
                "query": ("MissingAuthenticationToken", 403,
                          "The request must contain a valid (registered) AWS access key ID."),
                "s3": ("AccessDenied", 403, "Access Denied")},
    "incomplete": {"json": ("IncompleteSignature", 403,
                            "The request signature does not conform to AWS standards."),
                   "query": ("IncompleteSignature", 403,
                             "The request signature does not conform to AWS standards."),
                   "s3": ("AuthorizationHeaderMalformed", 400,
                          "The authorization header is malformed.")},
    "skewed": {"json": ("RequestExpired", 400, "Signature expired."),
               "query": ("RequestExpired", 400, "Signature expired."),
               "s3": ("RequestTimeTooSkewed", 403, _SKEWED_MESSAGE)},
    "expired": {"json": ("RequestExpired", 400, "Request has expired."),
                "query": ("RequestExpired", 400, "Request has expired."),
                "s3": ("AccessDenied", 403, "Request has expired")},
    "content_sha256_mismatch": {
        protocol: ("XAmzContentSHA256Mismatch", 400, _HASH_MISMATCH_MESSAGE)
        for protocol in ("json", "query", "s3")},
}
JSON_SERVICES = ("sagemaker", "states", "logs", "ecr", "sqs", ADMIN_SERVICE)
QUERY_SERVICES = ("iam", "sts", "sns", "cloudformation", "ec2")


def protocol_of(environ: dict) -> str:
    """Which protocol's error shape the client expects: json, query or s3."""
    if environ.get("HTTP_X_AMZ_TARGET") or environ.get("PATH_INFO", "").startswith(
            ("/_tutorial/", "/endpoints/")):
        return "json"
    scope = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/",
                      (environ.get("HTTP_AUTHORIZATION") or "")
                      + unquote(environ.get("QUERY_STRING", "")))
    if scope:
        service = scope.group(1)
        if service in QUERY_SERVICES:
            return "query"
        if service in JSON_SERVICES or service.startswith("runtime"):
            return "json"
        return "s3" if service == "s3" else "json"
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return "query"
    return "s3"


def refusal_response(environ: dict, refused: Refused, start_response) -> list[bytes]:
    protocol = protocol_of(environ)
    code, status, message = ERRORS[refused.kind][protocol]
    if refused.detail and refused.kind not in ("bad_signature", "expired"):
        message = f"{message} {refused.detail}"
    request_id = str(uuid.uuid4())
    reason = "Forbidden" if status == 403 else "Bad Request"
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", request_id)]
    elif protocol == "query":
        body = ("<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        key = (f"<AWSAccessKeyId>{escape(refused.access_key_id)}</AWSAccessKeyId>"
               if refused.access_key_id else "")
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{key}"
                f"<RequestId>{request_id}</RequestId></Error>").encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    if environ.get("REQUEST_METHOD") == "HEAD":
        body = b""  # HEAD answers carry no body; the status says it (botocore reads it so)
    start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
    return [body]
