"""The ``atelier`` command: run, migrate, demo, permissions.

``atelier run`` migrates the database, loads the demo assembly when the database is
empty (``--demo``), then serves — so ``make run`` is one step on a fresh machine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig

from server import cli_members
from server.config import ROOT, Settings, load_settings

MIGRATIONS = ROOT / "server" / "migrations"


def alembic_config(settings: Settings) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def migrate(settings: Settings) -> None:
    """Bring the schema to the newest migration (creates the SQLite file if needed)."""
    if settings.is_sqlite:
        path = settings.database_url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), "head")


async def migrate_async(url: str, revision: str = "head", *, down: bool = False) -> None:
    """``migrate`` for callers already inside an event loop (tests, benchmarks); ``down``
    goes back to ``revision`` (the tests of a data migration)."""
    from server.database import make_engine

    engine = make_engine(url)
    config = alembic_config(Settings(database_url=url))

    def run(connection: object) -> None:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def load_demo_if_empty(settings: Settings, *, announce: bool = True) -> bool:
    from server.broker.memory import MemoryBroker
    from server.database import Database, make_engine
    from server.demo import DEMO_PASSWORD, is_empty, load_demo

    db = Database(make_engine(settings.database_url), MemoryBroker())
    try:
        async with db.transaction() as session:
            if not await is_empty(session):
                return False
            accounts = await load_demo(session)
    finally:
        await db.dispose()
    if announce:
        print(
            "Assemblée de démonstration chargée. Connexion (mot de passe commun "
            f"« {DEMO_PASSWORD} ») :"
        )
        for email, role in accounts.items():
            print(f"  {email:45} {role}")
    return True


def websocket_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's WebSocket options, one place for ``atelier run`` and the tests' servers."""
    return {
        # The sans-I/O protocol: server/wire.py writes shared frames through it.
        "ws": "websockets-sansio",
        # Compressing each recipient's copy of a short chat frame costs more CPU than it
        # saves bytes, and it would stop server/wire.py sharing one frame.
        "ws_per_message_deflate": False,
        "ws_max_size": 1024 * 1024,
        "ws_ping_interval": settings.ws_ping_interval_secs,
        "ws_ping_timeout": settings.ws_ping_timeout_secs,
    }


def write_permissions(target: Path) -> None:
    from auth.roles import render_matrix_markdown

    text = target.read_text(encoding="utf-8")
    start, end = "<!-- matrix:start -->", "<!-- matrix:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    target.write_text(f"{head}{start}\n{render_matrix_markdown()}{end}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="atelier", description="Atelier — Assemblée des Territoires"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrer puis servir")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--demo", action="store_true", help="charger la démo si la base est vide")
    sub.add_parser("migrate", help="mettre le schéma à jour")
    sub.add_parser("demo", help="charger l'assemblée de démonstration (base vide)")
    perms = sub.add_parser("permissions", help="réécrire la matrice de docs/permissions.md")
    perms.add_argument("--file", default=str(ROOT / "docs" / "permissions.md"))
    cli_members.add_parsers(sub)
    args = parser.parse_args(argv)
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )

    if args.command in ("admin", "members"):
        return asyncio.run(cli_members.run(args, settings))
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "demo":
        migrate(settings)
        if not asyncio.run(load_demo_if_empty(settings)):
            print("La base contient déjà des comptes : démo non chargée.")
    elif args.command == "permissions":
        write_permissions(Path(args.file))
    elif args.command == "run":
        import uvicorn

        from server.app import create_app

        migrate(settings)
        if args.demo:
            asyncio.run(load_demo_if_empty(settings))
        settings = dataclasses.replace(settings, demo=bool(args.demo))
        host, port = args.host or settings.host, args.port or settings.port
        print(f"Atelier : http://{host}:{port}")
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level=settings.log_level,
            proxy_headers=True,
            **websocket_options(settings),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
