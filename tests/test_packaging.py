"""The package's declared dependencies and public API match what the code does."""
import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions

import local_aws
from tests.conftest import REPO

OWN_PACKAGES = ("helpers", "local_aws", "series_tools")


def imports_of(package: str) -> dict[str, set[str]]:
    """Absolute imports in a package: {top-level module: {file, ...}} (function-level ones too)."""
    found = {}
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                found.setdefault(module, set()).add(str(path.relative_to(REPO)))
    return found


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pyproject_declares_every_third_party_package_the_code_imports():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {normalized(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0])
                for requirement in project["dependencies"]}
    distributions = packages_distributions()
    undeclared = {}
    for package in OWN_PACKAGES:
        for module, files in imports_of(package).items():
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in OWN_PACKAGES:
                continue
            names = {normalized(d) for d in distributions.get(top, [top])}
            if not names & declared:
                undeclared.setdefault(top, set()).update(files)
    assert undeclared == {}


def test_helpers_and_series_tools_use_only_local_aws_public_api():
    """`local_aws.__all__` is the API; everything else in it is internal."""
    outside = []
    for package in ("helpers", "series_tools"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and \
                        node.module.split(".")[0] == "local_aws":
                    names = [alias.name for alias in node.names]
                    if node.module != "local_aws" or not set(names) <= set(local_aws.__all__):
                        outside.append(f"{path.relative_to(REPO)}: from {node.module} import "
                                       f"{', '.join(names)}")
                elif isinstance(node, ast.Import):
                    outside += [f"{path.relative_to(REPO)}: import {alias.name}"
                                for alias in node.names
                                if alias.name.startswith("local_aws.")]
    assert outside == []
    for name in local_aws.__all__:  # and every public name is there
        assert getattr(local_aws, name) is not None


def test_no_module_outside_moto_hooks_imports_moto():
    """Every hook into moto's internals lives in local_aws/moto_hooks (issue 17)."""
    importing = sorted(file for package in OWN_PACKAGES
                       for module, files in imports_of(package).items()
                       if module.split(".")[0] == "moto"
                       for file in files if not file.startswith("local_aws/moto_hooks/"))
    assert importing == []


def test_pip_check_is_clean():
    checked = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                             text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
