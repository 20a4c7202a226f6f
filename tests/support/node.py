"""The Node.js tools the tests drive (node, tsc, playwright-core, Debian's chromium)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.paths import NODE_MODULES, ROOT
from tests.support.services import need

CHROMIUM = Path("/usr/bin/chromium")


def need_node(*packages: str) -> None:
    """Skip without Node.js or an npm package (fail instead when CI=true)."""
    need(shutil.which("node") is not None, "node is not installed")
    for package in packages:
        need((NODE_MODULES / package).is_dir(), f"{package} is not installed: run `npm ci`")


def need_chromium() -> None:
    """Skip without Debian's chromium (fail instead when CI=true: .ci/run installs it)."""
    need(CHROMIUM.is_file(), "chromium is not installed: apt-get install -y chromium")
    need_node("playwright-core")


def run_node(args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `node args…` from the repository root; output captured as text."""
    return subprocess.run(
        ["node", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
