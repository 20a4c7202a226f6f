"""Developer and CI tasks: `./dev <session>` (or `nox -s <session>`).

generate · check · lint · tests · serve (and, as they land: docs, conformance, bench).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["check", "lint", "tests"]
PYTHON = "3.11"


def install(session: nox.Session) -> None:
    """The project with its development extras, editable."""
    session.install("-e", ".[dev]")


def npm_ci(session: nox.Session) -> None:
    """The Node.js tools (official AsyncAPI schema/parser, socket.io-client), from package-lock."""
    if shutil.which("npm") is None:
        session.error("npm is required (Node.js >= 20): the contract checks use the official tools")
    lock = ROOT / "package-lock.json"
    stamp = ROOT / "node_modules" / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        session.run("npm", "ci", "--no-audit", "--no-fund", external=True)


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Regenerate generated/ from spec/."""
    install(session)
    session.run("python", "-m", "codegen")


@nox.session(python=PYTHON)
def check(session: nox.Session) -> None:
    """The contract: generated/ matches spec/ (drift), both specs validate, and no change
    breaks the last released contract without a new major version (CONTRIBUTING.md)."""
    install(session)
    npm_ci(session)
    session.run("python", "-m", "codegen", "--check")
    session.run("node", "tools/asyncapi_check.mjs", "spec/asyncapi.yaml", external=True)
    session.run("openapi-spec-validator", "spec/openapi.yaml")
    session.run("python", "-m", "conformance.compat")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint + format), mypy --strict over [tool.mypy]'s files (bench too), lint-imports."""
    install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (PostgreSQL and Redis tests run, not skip, when CI=true)."""
    install(session)
    npm_ci(session)
    args = session.posargs or ["-q"]
    session.run("pytest", *args, env={"PYTHONDONTWRITEBYTECODE": "1"})


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The docs site for client teams into site/; refreshes service/static/asyncapi.html."""
    session.env["PUPPETEER_SKIP_DOWNLOAD"] = "1"  # the HTML template never needs a browser
    install(session)
    npm_ci(session)
    session.run("python", "tools/build_docs.py", *session.posargs)


@nox.session(python=PYTHON)
def serve(session: nox.Session) -> None:
    """Run Zizany on http://localhost:4000 (embedded SQLite in ./data unless configured)."""
    install(session)
    args = session.posargs or ["--host", os.environ.get("ZIZANY_HOST", "127.0.0.1")]
    session.run("zizany", "serve", *args)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Load the demo data set (users with known passwords, servers, history) and print logins."""
    install(session)
    session.run("zizany", "demo")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against a Node.js Socket.IO baseline (`./dev bench -- --quick`); not a test."""
    session.install("-e", ".[client]", "matplotlib>=3.9", "py-spy>=0.4", "picows>=2.3")
    if shutil.which("npm") is None:
        session.error("npm is required (Node.js >= 20): the baseline server is Node.js")
    lock = ROOT / "bench" / "package-lock.json"
    stamp = ROOT / "bench" / "node_modules" / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        session.run("npm", "ci", "--no-audit", "--no-fund", "--prefix", "bench", external=True)
    session.run("python", "-m", "bench.run", *session.posargs)


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """The full contract-conformance run (a few minutes): sockets, state machine, schemathesis.

    Starts a local server over a fresh SQLite file; `-- --seed N` picks another run.
    """
    install(session)
    session.run("python", "-m", "conformance", *session.posargs)


@nox.session(python=PYTHON)
def compat(session: nox.Session) -> None:
    """Compare spec/ with a git ref (`-- origin/main`; default: the last released contract).

    Fails on a change that breaks clients without a new major version.
    """
    install(session)
    session.run("python", "-m", "conformance.compat", *session.posargs)
