"""What each notebook's Setup cell calls: re-create, idempotently, what earlier notebooks made,
so that any notebook runs on a fresh kernel (and on a freshly started local AWS)."""
from __future__ import annotations

from . import container, data, prerequisites

STEPS = ("prerequisites", "image", "data")


def rebuild(aws, upto: str = "data") -> str:
    """Ensure the prerequisites (00), the image (01) and the training data (02), up to `upto`."""
    if upto not in STEPS:
        raise ValueError(f"upto must be one of {', '.join(STEPS)}; got {upto!r}")
    done = []
    table = prerequisites.ensure_all(aws)
    done.append(f"{len(table)} prerequisites ({(table['this run'] == 'created').sum()} created)")
    if upto in ("image", "data"):
        done.append(f"image {container.publish_image(aws)}")
    if upto == "data":
        done.append(f"{len(data.upload(aws))} training file(s) in {data.training_uri(aws)}")
    return f"Ready on {aws.describe()}: " + "; ".join(done)
