"""The stock ``y-websocket`` client (under Node) co-edits a draft through Atelier.

Two members who may edit connect to ``/ws/drafts/<id>`` with their session cookies, the
way the browser does, and an observer connects read-only: the text one inserts reaches
the other (and the server's preview), the awareness carries names, and the observer's
update is refused with 4003 without reaching anyone (``tests/node/ydoc_client.mjs``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import ROOT, ServerProcess, login_cookie
from tests.services import unavailable

CLIENT = ROOT / "tests/node/ydoc_client.mjs"
MARIE = "marie.dupont@demo.atelier.test"
PAUL = "paul.sicard@demo.atelier.test"
LOUISE = "louise.fournier@demo.atelier.test"
BOURGS_CENTRES = "La politique des bourgs-centres"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        unavailable("Node.js is not installed")
    for package in ("yjs", "y-websocket", "ws"):
        if not (ROOT / "node_modules" / package / "package.json").exists():
            unavailable(f"node_modules/{package} is missing (npm ci)")
    return str(found)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    database = tmp_path_factory.mktemp("node-client") / "atelier.db"
    with ServerProcess(f"sqlite+aiosqlite:///{database}") as process:
        yield process


def create_draft(base_url: str, cookie: str, title: str) -> int:
    """A new draft in chantier 3.2, through the form on the space's drafts page."""
    with httpx.Client(base_url=base_url, cookies={"atelier_session": cookie}) as http:
        home = http.get("/").text
        space = re.search(
            r'href="/brouillons\?espace=(chantier:\d+)">[^<]*'
            rf'<span class="visually-hidden"> — {re.escape(BOURGS_CENTRES)}</span>',
            home,
        )
        assert space, "no drafts link for chantier 3.2 on the home page"
        http.get(f"/brouillons?espace={space.group(1)}")  # hands out the CSRF cookie
        response = http.post(
            "/brouillons",
            data={
                "csrf": http.cookies["atelier_csrf"],
                "space": space.group(1),
                "title": title,
                "kind": "report",
            },
        )
        assert response.status_code == 303, response.text
        found = re.fullmatch(r"/brouillons/(\d+)", response.headers["location"])
        assert found, response.headers["location"]
        return int(found.group(1))


def test_stock_y_websocket_client(node: str, server: ServerProcess, tmp_path: Path) -> None:
    marie = login_cookie(server.base_url, MARIE)
    paul = login_cookie(server.base_url, PAUL)
    louise = login_cookie(server.base_url, LOUISE)
    draft_id = create_draft(server.base_url, marie, "Notes du client Node")
    text = f"Paragraphe écrit par le client y-websocket ({uuid.uuid4().hex[:8]})"
    config = tmp_path / "client.json"
    config.write_text(
        json.dumps(
            {
                "ws_url": f"ws://127.0.0.1:{server.port}/ws/drafts",
                "origin": server.base_url,
                "room": str(draft_id),
                "writer": {"cookie": marie, "name": "Marie Dupont"},
                "reader": {"cookie": paul, "name": "Paul Sicard"},
                "observer": {"cookie": louise, "name": "Louise Fournier"},
                "text": text,
            }
        ),
        encoding="utf-8",
    )

    run = subprocess.run(
        [node, str(CLIENT), str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.stdout.strip(), run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert result["ok"], result.get("error", run.stderr)
    assert result["same_initial_text"]
    assert result["reader_sees_text"]
    assert result["reader_text"].endswith(f"\n{text}\n")
    assert result["reader_sees_writer"]
    assert result["observer_sees_text"]
    assert result["observer_close_code"] == 4003
    assert result["reader_unchanged"]
    # The server holds what the editors wrote: its preview renders it, not the refusal.
    preview = httpx.get(
        f"{server.base_url}/api/drafts/{draft_id}/preview", cookies={"atelier_session": paul}
    ).json()["html"]
    assert text in preview
    assert "refusé" not in preview
