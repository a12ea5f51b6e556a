// Other members' carets and selections in the editor, from the Yjs awareness states
// ({user: {name, color, colorLight}, cursor: {anchor, head}}, y-codemirror.next's shape).
//
// y-codemirror.next has the same plugin, but its caret widget writes a `style` attribute
// as text, which `style-src 'self'` refuses. Here colours come from classes
// (draft-colors.js) and the look from the editor theme (draft-editor.js). The name flags
// are hidden from screen readers: they are not part of the text, and the side panel
// lists who is in the draft.
import * as Y from "yjs";
import { Annotation, RangeSet } from "@codemirror/state";
import { Decoration, ViewPlugin, WidgetType } from "@codemirror/view";
import { colorClass } from "./draft-colors.js";

const refresh = Annotation.define();

class CaretWidget extends WidgetType {
  /** `moves` changes each time this caret moves: a new flag, shown again for a while. */
  constructor(colorCls, name, moves) {
    super();
    this.colorCls = colorCls;
    this.name = name;
    this.moves = moves;
  }

  toDOM() {
    const caret = document.createElement("span");
    caret.className = `cm-remote-caret ${this.colorCls}`;
    caret.setAttribute("aria-hidden", "true");
    const flag = document.createElement("span");
    flag.className = "cm-remote-flag";
    flag.textContent = this.name;
    // Word joiners keep the caret from breaking the line it sits in.
    caret.append("\u2060", flag, "\u2060");
    return caret;
  }

  eq(other) {
    return other.colorCls === this.colorCls && other.name === this.name && other.moves === this.moves;
  }

  get estimatedHeight() {
    return -1;
  }

  ignoreEvent() {
    return true;
  }
}

/**
 * @param {import("y-protocols/awareness").Awareness} awareness
 * @param {Y.Text} ytext
 * @param {{share: boolean, colors: import("./draft-colors.js").MemberColors}} options
 *   share: publish the local selection (members who can write; read-only readers see
 *   the others without showing a caret themselves); colors: the colours shown.
 */
export function remoteCursors(awareness, ytext, { share, colors }) {
  const moves = new Map(); // client id -> [last cursor as JSON, count]
  return ViewPlugin.fromClass(
    class {
      constructor(view) {
        this.decorations = RangeSet.of([]);
        this.listener = ({ added, updated, removed }) => {
          const clients = added.concat(updated, removed);
          if (clients.some((id) => id !== awareness.clientID)) {
            view.dispatch({ annotations: [refresh.of(true)] });
          }
        };
        awareness.on("change", this.listener);
      }

      destroy() {
        awareness.off("change", this.listener);
      }

      update(update) {
        if (share) this.publish(update);
        this.decorations = this.draw(update.view);
      }

      publish(update) {
        const local = awareness.getLocalState();
        if (local == null) return;
        const view = update.view;
        if (!(view.hasFocus && view.dom.ownerDocument.hasFocus())) return;
        const sel = update.state.selection.main;
        const anchor = Y.createRelativePositionFromTypeIndex(ytext, sel.anchor);
        const head = Y.createRelativePositionFromTypeIndex(ytext, sel.head);
        const current = local.cursor;
        if (
          current == null ||
          !Y.compareRelativePositions(Y.createRelativePositionFromJSON(current.anchor), anchor) ||
          !Y.compareRelativePositions(Y.createRelativePositionFromJSON(current.head), head)
        ) {
          awareness.setLocalStateField("cursor", { anchor, head });
        }
      }

      draw(view) {
        const ydoc = ytext.doc;
        const doc = view.state.doc;
        const ranges = [];
        awareness.getStates().forEach((state, clientId) => {
          if (clientId === awareness.clientID) return;
          const cursor = state.cursor;
          if (!cursor || cursor.anchor == null || cursor.head == null) return;
          const anchor = Y.createAbsolutePositionFromRelativePosition(cursor.anchor, ydoc);
          const head = Y.createAbsolutePositionFromRelativePosition(cursor.head, ydoc);
          if (!anchor || !head || anchor.type !== ytext || head.type !== ytext) return;
          if (anchor.index > doc.length || head.index > doc.length) return;
          const user = state.user || {};
          const cls = colorClass(colors.of(user, clientId));
          const seen = JSON.stringify(cursor);
          const moved = moves.get(clientId) || ["", 0];
          if (moved[0] !== seen) moves.set(clientId, [seen, moved[1] + 1]);
          const from = Math.min(anchor.index, head.index);
          const to = Math.max(anchor.index, head.index);
          if (from < to) {
            const startLine = doc.lineAt(from);
            const endLine = doc.lineAt(to);
            const mark = Decoration.mark({ class: `cm-remote-selection ${cls}` });
            if (startLine.number === endLine.number) {
              ranges.push(mark.range(from, to));
            } else {
              if (from < startLine.to) ranges.push(mark.range(from, startLine.to));
              for (let n = startLine.number + 1; n < endLine.number; n++) {
                const line = doc.line(n);
                ranges.push(Decoration.line({ class: `cm-remote-line ${cls}` }).range(line.from));
              }
              if (endLine.from < to) ranges.push(mark.range(endLine.from, to));
            }
          }
          ranges.push(
            Decoration.widget({
              side: head.index - anchor.index > 0 ? -1 : 1,
              widget: new CaretWidget(cls, user.name || "", moves.get(clientId)[1]),
            }).range(head.index),
          );
        });
        return Decoration.set(ranges, true);
      }
    },
    { decorations: (plugin) => plugin.decorations },
  );
}
