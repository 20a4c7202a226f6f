"""The `zizany` command: `serve`, `db upgrade`, `demo`, `mock`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib import metadata

from sqlalchemy.engine import make_url

from service import workers
from service.auth.passwords import Passwords
from service.contract import contract_versions
from service.db.engine import create_engine, session_factory
from service.db.migrate import upgrade, upgrade_database
from service.demo import DEMO_PASSWORD, DEMO_USERS, demo_loaded, load_demo
from service.logs import configure_logging
from service.mock.app import serve_mock
from service.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zizany", description="Zizany chat back end.")
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (REST and Socket.IO on one port)")
    serve.add_argument(
        "--host", default=None, help="address to bind (default: ZIZANY_HOST or 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=None, help="port (default: ZIZANY_PORT or 4000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (more than 1 needs ZIZANY_REDIS_URL)",
    )
    db = commands.add_parser("db", help="database tasks")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations to the configured database")
    commands.add_parser("demo", help="load a small demo data set and print its logins")
    mock = commands.add_parser(
        "mock", help="serve the contract from its examples alone (no database), for clients"
    )
    mock.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1)")
    mock.add_argument("--port", type=int, default=None, help="port (default: 4000)")
    return parser


def version_text() -> str:
    """`zizany 0.1.0 (contract 1.0.0)`: the package and the specs' `info.version`."""
    try:
        package = metadata.version("zizany")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        package = "unknown"
    versions = contract_versions()
    distinct = set(versions.values())
    if len(distinct) == 1:
        contract = distinct.pop()
    else:  # a contract in the middle of a change: say which spec is at which version
        contract = ", ".join(f"{name} {version}" for name, version in versions.items())
    return f"zizany {package} (contract {contract})"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `zizany` console script."""
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        return workers.serve(settings, host=args.host, port=args.port, workers=args.workers)
    if args.command == "mock":
        return serve_mock(settings, host=args.host, port=args.port)
    if args.command == "db":
        upgrade_database(settings.effective_database_url)
        print(f"database at {_redacted(settings)} is up to date")
        return 0
    return asyncio.run(_demo(settings))


async def _demo(settings: Settings) -> int:
    """Migrate, load the demo data unless present, and print the logins."""
    await upgrade(settings)
    engine = create_engine(settings)
    try:
        sessionmaker = session_factory(engine)
        if await demo_loaded(sessionmaker):
            print("The demo data is already loaded; nothing was changed.")
        else:
            await load_demo(sessionmaker, Passwords.from_settings(settings))
            print(f"Loaded the demo data into {_redacted(settings)}.")
    finally:
        await engine.dispose()
    print(f"Sign in with POST /api/auth/login, password {DEMO_PASSWORD!r} for every account:")
    for user in DEMO_USERS:
        print(f"  {user.email:<20} ({user.username})")
    return 0


def _redacted(settings: Settings) -> str:
    """The database URL without its password, for messages."""
    return make_url(settings.effective_database_url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
