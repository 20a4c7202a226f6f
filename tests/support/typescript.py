"""Compile clients/typescript/example.ts with tsc and run its `main` with Node.js, as a
client team would: against the live server (tests/docs) and against the mock (here)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.node import need_node, run_node
from tests.support.paths import NODE_MODULES, ROOT

EXAMPLE = ROOT / "clients" / "typescript"
TSC = NODE_MODULES / "typescript" / "bin" / "tsc"

# Calls the compiled example's main(baseUrl, email, password, serverId, channelId).
_RUNNER = """
const [module, ...args] = JSON.parse(process.argv[1]);
const { main } = await import(module);
await main(args[0], args[1], args[2], Number(args[3]), Number(args[4]));
"""


def compile_example(out: Path) -> Path:
    """`tsc --strict` emits example.js into `out` (an ES module); returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "package.json").write_text('{"type": "module"}\n', encoding="utf-8")
    link = out.parent / "node_modules"
    if not link.exists():
        link.symlink_to(NODE_MODULES, target_is_directory=True)
    done = run_node(
        [str(TSC), "-p", str(EXAMPLE), "--strict", "--noEmit", "false", "--outDir", str(out)],
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "example.js"


def run_example(
    compiled: Path, base: str, email: str, password: str, server_id: int, channel_id: int
) -> subprocess.CompletedProcess[str]:
    """Run the example's main against `base`; its console output is in stdout."""
    args = [compiled.as_uri(), base, email, password, str(server_id), str(channel_id)]
    return run_node(["--input-type=module", "-e", _RUNNER, json.dumps(args)], timeout=60)


@pytest.fixture(scope="session")
def compiled_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example compiled once per session (tsc takes 5–30 s)."""
    need_node("typescript", "socket.io-client")
    return compile_example(tmp_path_factory.mktemp("typescript") / "out")
