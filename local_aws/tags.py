"""SageMaker tags: the `Tags` of a Create call, and AddTags, ListTags and DeleteTags, kept per
resource ARN (as AWS does: tags belong to the ARN, and outlive nothing else)."""
from __future__ import annotations

import threading

from .sagemaker import validation_error

MAX_TAGS = 50  # AWS's limit per SageMaker resource


class TagStore:
    def __init__(self):
        self._tags: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def check(tags) -> None:
        if not isinstance(tags, list) or any(not isinstance(t, dict) or not t.get("Key")
                                             for t in tags):
            raise validation_error("Tags must be a list of {Key, Value} pairs, each with a Key.")
        if len(tags) > MAX_TAGS:
            raise validation_error(f"A resource can have at most {MAX_TAGS} tags.")

    def add_tags(self, request: dict, region: str = "") -> dict:
        arn, tags = request.get("ResourceArn", ""), request.get("Tags") or []
        if not arn.startswith("arn:"):
            raise validation_error("ResourceArn must be the ARN of a SageMaker resource.")
        self.check(tags)
        with self._lock:
            current = self._tags.setdefault(arn, {})
            merged = {**current, **{t["Key"]: t.get("Value", "") for t in tags}}
            if len(merged) > MAX_TAGS:
                raise validation_error(f"A resource can have at most {MAX_TAGS} tags.")
            current.update(merged)
        return {"Tags": tags}

    def list_tags(self, request: dict, region: str = "") -> dict:
        with self._lock:
            tags = self._tags.get(request.get("ResourceArn", ""), {})
            return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}

    def delete_tags(self, request: dict, region: str = "") -> dict:
        with self._lock:
            tags = self._tags.get(request.get("ResourceArn", ""), {})
            for key in request.get("TagKeys") or []:
                tags.pop(key, None)
        return {}

    def tag_created(self, request: dict, result: dict):
        """After a successful Create<Resource>: keep the request's Tags under the new ARN."""
        arn = next((value for key, value in result.items() if key.endswith("Arn")), None)
        if arn and request.get("Tags"):
            self.add_tags({"ResourceArn": arn, "Tags": request["Tags"]})
