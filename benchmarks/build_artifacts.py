"""How long the generated artifacts take: the workshop copies (`make workshop`), the
infrastructure-as-code export, and cfn-lint over the exported templates."""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from series_tools import export, workshop


def timed(label: str, action) -> None:
    started = time.perf_counter()
    result = action()
    print(f"{label:<40} {time.perf_counter() - started:6.2f} s   {result}")


def main() -> None:
    out = Path(tempfile.mkdtemp())
    timed("workshop copies, plan and agenda", lambda: f"{len(list(out.rglob('*')))} files"
          if workshop.build(out / "workshop") else "")
    timed("export: ASL + CloudFormation", lambda: f"{len(export.export(out / 'export'))} files")
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    if not cfn_lint.exists():
        print("cfn-lint is not installed here (`make test` installs it); not timed")
        return
    timed("cfn-lint on the templates", lambda: "exit code " + str(subprocess.run(
        [str(cfn_lint), *map(str, (out / "export").glob("*.template.json"))]).returncode))


if __name__ == "__main__":
    main()
