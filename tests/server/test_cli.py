"""The operator's commands, run as a user runs them: ``python -m server …``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def atelier(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
        "LOG_LEVEL": "error",
    }
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_admin_create_invite_and_list(tmp_path: Path) -> None:
    assert atelier(tmp_path, "migrate").returncode == 0
    weak = atelier(tmp_path, "admin", "create", "a@x.fr", "Alice Admin", "--password-stdin",
                   stdin="court\n")  # fmt: skip
    assert weak.returncode == 2
    assert "Mot de passe refusé" in weak.stderr
    made = atelier(
        tmp_path, "admin", "create", "a@x.fr", "Alice Admin", "--civility", "mme",
        "--password-stdin", stdin="le causse au petit matin\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "Compte administrateur créé" in made.stdout
    twice = atelier(tmp_path, "admin", "create", "a@x.fr", "Alice", "--password-stdin",
                    stdin="le causse au petit matin\n")  # fmt: skip
    assert twice.returncode == 2
    invited = atelier(tmp_path, "admin", "invite", "b@x.fr", "Bruno Blanc", "--role",
                      "assembly=comite", "--url", "https://atelier.example")  # fmt: skip
    assert invited.returncode == 0, invited.stderr
    assert "https://atelier.example/invitation/" in invited.stdout
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    listed = atelier(tmp_path, "members", "list")
    assert "Alice Admin <a@x.fr>" in listed.stdout
    assert "Administrateur·rice (assembly)" in listed.stdout
    assert "1 membre(s)." in listed.stdout
