"""Comment anchors made by Yjs (as the browser makes them) resolve to the right
characters on the server, whatever the text holds: accents (two UTF-8 bytes, one UTF-16
unit), an emoji (four bytes, two units, one character), and several members' edits
(several CRDT items). The server's ``range`` counts characters (Python's str indices).

The anchors come from the real Yjs under Node (``node_modules/yjs``), with the calls of
``web/src/draft-comments.js``: ``createRelativePositionFromTypeIndex(ytext, from)`` and
``(ytext, to, -1)``.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest
from pycrdt import Doc

from documents import comments, crdt
from documents.errors import InvalidDraftInput
from tests.processes import ROOT
from tests.services import unavailable

# Three members type in turns (their items stay apart), one deletes; then every passage
# of interest is anchored as the browser does it, and each character position too.
SCRIPT = r"""
import * as Y from "yjs";
const docs = [1, 2, 3].map((id) => { const d = new Y.Doc(); d.clientID = id; return d; });
const sync = () => {
  for (const a of docs) for (const b of docs) Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
};
const text = (i) => docs[i].getText("markdown");
text(0).insert(0, "Les commerces de proximité ferment à Figeac.\n");
sync();
text(1).insert(0, "## Été 🏘 — Résumé\n\n");
sync();
text(2).insert(text(2).length, "Les écoles rurales résistent, déjà.\n");
text(2).delete(text(2).toString().indexOf("rurales"), "rurales ".length);
sync();
const t = text(0);
const s = t.toString();
const b64 = (rp) => Buffer.from(Y.encodeRelativePosition(rp)).toString("base64");
const anchor = (from, to) => ({
  start: b64(Y.createRelativePositionFromTypeIndex(t, from)),
  end: b64(Y.createRelativePositionFromTypeIndex(t, to, -1)),
});
const chars = (units) => [...s.slice(0, units)].length;  // UTF-16 -> characters
const passages = {};
for (const word of ["commerces de proximité", "ferment", "Figeac", "Été", "Résumé",
                    "écoles", "déjà", "🏘"]) {
  const from = s.indexOf(word);
  const to = from + word.length;
  passages[word] = { ...anchor(from, to), range: [chars(from), chars(to)] };
}
console.log(JSON.stringify({ update: Buffer.from(Y.encodeStateAsUpdate(docs[0])).toString("base64"),
                             text: s, passages }));
"""


@pytest.fixture(scope="module")
def browser_made() -> dict:
    node = shutil.which("node")
    if node is None:
        unavailable("Node.js is not installed")
    if not (ROOT / "node_modules/yjs/package.json").exists():
        unavailable("node_modules/yjs is missing (npm ci)")
    out = subprocess.run(
        [str(node), "--input-type=module", "-e", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict = json.loads(out.stdout)
    return data


def server_doc(data: dict) -> Doc:
    doc = crdt.new_doc()
    doc.apply_update(base64.b64decode(data["update"]))
    assert crdt.markdown_of(doc) == data["text"]
    return doc


@pytest.mark.parametrize(
    "word",
    ["commerces de proximité", "ferment", "Figeac", "Été", "Résumé", "écoles", "déjà", "🏘"],
)
def test_browser_anchors_resolve_to_their_passage(browser_made: dict, word: str) -> None:
    doc = server_doc(browser_made)
    passage = browser_made["passages"][word]
    anchor = comments.anchor_from_client(doc, passage["start"], passage["end"])
    assert anchor.quote == word
    start, end = base64.b64decode(passage["start"]), base64.b64decode(passage["end"])
    assert list(comments.resolve(doc, start, end) or ()) == passage["range"]


@pytest.mark.parametrize("word", ["ferment", "Été", "déjà", "🏘"])
def test_server_anchors_are_the_browser_anchors(browser_made: dict, word: str) -> None:
    """``range`` in a POST makes the same anchor as the browser's relative positions."""
    doc = server_doc(browser_made)
    passage = browser_made["passages"][word]
    anchor = comments.anchor_range(doc, *passage["range"])
    assert anchor.quote == word
    assert base64.b64encode(anchor.start).decode() == passage["start"]
    assert base64.b64encode(anchor.end).decode() == passage["end"]


def test_anchor_on_text_the_server_lacks_is_refused(browser_made: dict) -> None:
    """Text typed in a browser and not yet received: a clean 422, not a pycrdt panic."""
    node = shutil.which("node")
    assert node is not None
    script = r"""
import * as Y from "yjs";
const d = new Y.Doc(); d.clientID = 9;
const t = d.getText("markdown");
t.insert(0, "tapé hors ligne");
const b64 = (rp) => Buffer.from(Y.encodeRelativePosition(rp)).toString("base64");
console.log(JSON.stringify({ start: b64(Y.createRelativePositionFromTypeIndex(t, 0)),
                             end: b64(Y.createRelativePositionFromTypeIndex(t, 4, -1)) }));
"""
    out = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    unknown = json.loads(out.stdout)
    doc = server_doc(browser_made)
    with pytest.raises(InvalidDraftInput):
        comments.anchor_from_client(doc, unknown["start"], unknown["end"])
