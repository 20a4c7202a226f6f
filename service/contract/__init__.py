"""The contract files the server reads at run time (spec/*.yaml), wherever Zizany runs.

`spec/` at the repository root is the only copy in git: codegen and the tests read it
there. The wheel ships the same files inside this package (hatch's `force-include` maps
`spec/*.yaml` to `service/contract/`), so an installed server reads them through
`importlib.resources`; a checkout (editable install) has no copies here and falls back
to the repository's `spec/`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SPEC_FILES = ("openapi.yaml", "asyncapi.yaml", "common.yaml")


def package_dir(package: str) -> Path:
    """The directory of an installed package; Zizany runs from a file system, not a zip."""
    found = resources.files(package)
    if not isinstance(found, Path):
        raise RuntimeError(f"package {package!r} is not on a file system: {found!r}")
    return found


@cache
def spec_dir() -> Path:
    """Where the contract files are: this package in a wheel, else the checkout's spec/."""
    packaged = package_dir(__name__)
    if all((packaged / name).is_file() for name in SPEC_FILES):
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "spec"
    if all((checkout / name).is_file() for name in SPEC_FILES):
        return checkout
    raise FileNotFoundError(
        f"the contract files {SPEC_FILES!r} are neither in {str(packaged)!r} (a wheel) "
        f"nor in {str(checkout)!r} (a checkout)"
    )


def contract_versions() -> dict[str, str]:
    """`info.version` of each spec that has one (both carry the one contract version)."""
    versions: dict[str, str] = {}
    for name in ("asyncapi.yaml", "openapi.yaml"):
        document: Any = yaml.safe_load((spec_dir() / name).read_text(encoding="utf-8"))
        versions[name] = str(document["info"]["version"])
    return versions
