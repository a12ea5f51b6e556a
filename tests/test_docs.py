"""The documentation follows the code.

``docs/protocol.md`` documents every client frame, server frame and room event with an
example that parses (client examples through the real ``parse_frame``), every error code,
close code, limit and JSON endpoint; ``docs/permissions.md`` holds the matrix rendered
from ``auth.roles``; the README keeps its two quick-start commands and lists every
environment variable the code reads, with its default.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from auth.errors import AuthError
from auth.roles import ROLE_LABELS, Permission, Role, render_matrix_markdown
from rooms import limits
from rooms.errors import RoomsError
from rooms.events import ROOM_EVENT_TYPES
from server import errors, protocol
from server.app import routes
from server.config import Settings, load_settings
from server.protocol import FRAMES, parse_frame

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PROTOCOL = (DOCS / "protocol.md").read_text(encoding="utf-8")
PERMISSIONS = (DOCS / "permissions.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
CATALOGUES = ROOT / "web" / "i18n"

HEADING = re.compile(r"^### `([^`]+)`[ \t]*$", re.MULTILINE)
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.MULTILINE | re.DOTALL)
ENV_READ = re.compile(
    r"""(?:config|environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)

# Server → client frames that are not room events: the string constants of
# ``server.protocol`` (HELLO, ACK, ERROR, RESET, LIVE, UNREAD, TYPING, PRESENCE, PONG).
SERVER_FRAMES = sorted(
    value for name, value in vars(protocol).items() if name.isupper() and isinstance(value, str)
)


def section(text: str, title: str) -> str:
    """The body of the ``## title`` section (up to the next ``## `` heading)."""
    match = re.search(rf"^## {re.escape(title)}[ \t]*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"section '## {title}' is missing"
    return match.group(1)


def frame_docs(text: str) -> dict[str, str]:
    """``### `type` `` headings of a section, mapped to their bodies."""
    found: dict[str, str] = {}
    matches = list(HEADING.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = match.group(1)
        assert name not in found, f"'### `{name}`' appears twice in one section"
        found[name] = text[match.end() : end]
    return found


def first_example(name: str, body: str) -> str:
    match = JSON_BLOCK.search(body)
    assert match, f"'### `{name}`' has no ```json example"
    return match.group(1)


CLIENT_DOCS = frame_docs(section(PROTOCOL, "Client frames"))
SERVER_DOCS = frame_docs(section(PROTOCOL, "Server frames") + section(PROTOCOL, "Room events"))


# -- protocol.md: frames ---------------------------------------------------------------
def test_server_frame_constants_are_found() -> None:
    expected = {"hello", "ack", "error", "reset", "live", "unread", "typing", "presence", "pong"}
    assert expected <= set(SERVER_FRAMES)


@pytest.mark.parametrize("frame_type", sorted(FRAMES))
def test_client_frame_is_documented_with_a_valid_example(frame_type: str) -> None:
    assert frame_type in CLIENT_DOCS, f"no '### `{frame_type}`' under '## Client frames'"
    text = first_example(frame_type, CLIENT_DOCS[frame_type])
    assert json.loads(text)["type"] == frame_type
    command = parse_frame(text)
    assert command.type == frame_type


@pytest.mark.parametrize("frame_type", sorted({*SERVER_FRAMES, *ROOM_EVENT_TYPES}))
def test_server_frame_is_documented_with_an_example(frame_type: str) -> None:
    assert frame_type in SERVER_DOCS, (
        f"no '### `{frame_type}`' under '## Server frames' or '## Room events'"
    )
    example = json.loads(first_example(frame_type, SERVER_DOCS[frame_type]))
    assert example["type"] == frame_type
    if frame_type in ROOM_EVENT_TYPES:
        assert isinstance(example["room_id"], int)
        assert isinstance(example["seq"], int)
        assert example["seq"] >= 1


def test_room_events_section_lists_only_room_events() -> None:
    events = frame_docs(section(PROTOCOL, "Room events"))
    assert set(events) == set(ROOM_EVENT_TYPES)


def test_no_heading_documents_a_frame_the_code_does_not_have() -> None:
    assert set(CLIENT_DOCS) <= set(FRAMES)
    assert set(SERVER_DOCS) <= {*SERVER_FRAMES, *ROOM_EVENT_TYPES}


def test_every_json_example_parses() -> None:
    blocks = JSON_BLOCK.findall(PROTOCOL)
    assert len(blocks) >= len(FRAMES) + len(SERVER_FRAMES) + len(ROOM_EVENT_TYPES)
    for block in blocks:
        json.loads(block)


def test_client_examples_use_only_known_fields() -> None:
    for frame_type, body in CLIENT_DOCS.items():
        example = json.loads(first_example(frame_type, body))
        unknown = set(example) - {"type", *FRAMES[frame_type]}
        assert not unknown, f"{frame_type} example has fields the server ignores: {unknown}"


# -- protocol.md: errors, close codes, limits, HTTP API ----------------------------------
def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _error_codes() -> set[str]:
    codes = set(errors.HTTP_STATUS) | {"internal_error"}
    source = (ROOT / "server" / "protocol.py").read_text(encoding="utf-8")
    codes |= set(re.findall(r"""ProtocolError\(\s*["']([a-z_]+)["']""", source))
    codes |= {sub.code for sub in _subclasses(RoomsError) + _subclasses(AuthError)}
    codes |= {errors.RateLimited.code, errors.BadRequest.code}
    return codes


def _catalogue(locale: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOGUES / f"{locale}.json").read_text("utf-8"))
    return data


def test_every_error_code_is_in_the_error_table() -> None:
    table = section(PROTOCOL, "Error codes")
    # ``error.<code>.<reason>`` keys are sentences for a reason, not codes.
    catalogue_codes = {
        k.removeprefix("error.")
        for k in _catalogue("fr")
        if k.startswith("error.") and k.count(".") == 1
    }
    for code in sorted(_error_codes() | catalogue_codes):
        assert re.search(rf"^\| `{code}` \|", table, re.M), f"error code {code!r} undocumented"


def test_error_table_gives_the_http_status() -> None:
    table = section(PROTOCOL, "Error codes")
    for code, status in errors.HTTP_STATUS.items():
        assert re.search(rf"^\| `{code}` \| {status} \|", table, re.M), code


def test_every_error_code_has_a_sentence_in_each_language() -> None:
    # The codes the edge maps today; the account errors join when they get an HTTP status.
    source = (ROOT / "server" / "protocol.py").read_text(encoding="utf-8")
    codes = set(errors.HTTP_STATUS) | {"internal_error"}
    codes |= set(re.findall(r"""ProtocolError\(\s*["']([a-z_]+)["']""", source))
    codes |= {sub.code for sub in _subclasses(RoomsError)}
    for locale in ("fr", "en"):
        catalogue = _catalogue(locale)
        missing = sorted(c for c in codes if f"error.{c}" not in catalogue)
        assert not missing, f"{locale}.json lacks error sentences for {missing}"


def test_every_close_code_is_documented() -> None:
    table = section(PROTOCOL, "Connection")
    for name, value in vars(errors).items():
        if name.startswith("CLOSE_"):
            assert re.search(rf"^\| {value} \| `{name}`", table, re.M), name


def test_every_limit_is_named() -> None:
    names = [n for n in vars(limits) if n.isupper()]
    names += [n for n in vars(protocol) if n.startswith("MAX_")]
    for name in names:
        assert re.search(rf"`(?:[\w.]+\.)?{name}`", PROTOCOL), f"limit {name} is not documented"


def test_every_json_endpoint_is_documented() -> None:
    endpoints = [
        (method, re.sub(r":\w+}", "}", route.path))
        for route in routes()
        if getattr(route, "path", "").startswith("/api/")
        for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"})
    ]
    assert endpoints
    for method, path in endpoints:
        assert f"### `{method} {path}`" in PROTOCOL, f"{method} {path} is not documented"


# -- permissions.md -------------------------------------------------------------------
def test_permission_matrix_is_up_to_date() -> None:
    start, end = "<!-- matrix:start -->", "<!-- matrix:end -->"
    assert PERMISSIONS.count(start) == 1
    assert PERMISSIONS.count(end) == 1
    block = PERMISSIONS.split(start, 1)[1].split(end, 1)[0]
    assert block == "\n" + render_matrix_markdown(), (
        "docs/permissions.md is stale: run `.venv/bin/python -m server permissions`"
    )


def test_every_role_and_permission_is_described() -> None:
    for role in Role:
        assert f"`{role.value}`" in PERMISSIONS
        assert ROLE_LABELS[role] in PERMISSIONS
    for permission in Permission:
        assert f"`{permission.value}`" in PERMISSIONS


# -- README ---------------------------------------------------------------------------
def test_quick_start_is_exactly_two_commands() -> None:
    quick = section(README, "Quick start").split("\n### ", 1)[0]
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", quick, re.M | re.S)
    assert len(blocks) == 1
    commands = [line.strip() for line in blocks[0].splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


def _env_names(path: Path) -> set[str]:
    return {a or b for a, b in ENV_READ.findall(path.read_text(encoding="utf-8"))}


def _readme_row(name: str) -> str:
    match = re.search(rf"^\| `{name}` \|(.*)$", README, re.M)
    assert match, f"README's configuration tables do not list {name}"
    return match.group(1)


def test_readme_documents_every_setting_with_its_default() -> None:
    names = _env_names(ROOT / "server" / "config.py")
    assert {"DATABASE_URL", "REDIS_URL"} <= names
    settings = load_settings({})  # what an empty environment gives
    fields = {f.name for f in dataclasses.fields(Settings)}
    for name in sorted(names):
        row = _readme_row(name)
        if name.lower() not in fields:
            continue
        default = getattr(settings, name.lower())
        if name in ("DATABASE_URL", "MAIL_OUTBOX_DIR"):
            # Paths inside the checkout: the README shows them relative to it.
            expected = str(default).replace(str(ROOT), "<repository>").split("///")[-1]
        elif default in ("", ()):
            expected = "*(empty)*"
        else:
            expected = f"`{default}`"
        assert expected in row, f"README gives the wrong default for {name}: {default!r}"


def test_readme_documents_every_variable_the_tests_read() -> None:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        if path.name != Path(__file__).name:
            names |= _env_names(path)
    assert {"TEST_DATABASE_URL", "TEST_REDIS_URL", "ATELIER_REQUIRE_SERVICES"} <= names
    for name in sorted(names):
        _readme_row(name)


def test_readme_documents_every_cli_command() -> None:
    source = (ROOT / "server" / "cli.py").read_text(encoding="utf-8")
    commands = re.findall(r"""add_parser\(\s*["']([a-z-]+)["']""", source)
    assert "run" in commands
    for command in commands:
        assert f"`atelier {command}" in README, f"`atelier {command}` is not in the README"


def test_readme_links_exist() -> None:
    for target in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)\)", README):
        assert (ROOT / target).exists(), target


# -- catalogues -----------------------------------------------------------------------
def test_catalogues_have_the_same_keys() -> None:
    french, english = _catalogue("fr"), _catalogue("en")
    assert sorted(set(french) - set(english)) == []
    assert sorted(set(english) - set(french)) == []
