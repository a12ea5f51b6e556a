// A ranked-choice ballot without ties, ordered WITHOUT dragging: "Classer" moves an option
// into "Votre classement" (the focus goes on to the next option to rank), "Monter" and
// "Descendre" move it, "Retirer" sends it back; each move is said in the live region.
// Buttons at an end stay focusable (aria-disabled) so the focus never jumps away.
import { h } from "./dom.js";
import { t } from "./i18n.js";

export class RankList {
  /**
   * @param {string[]} options the poll's options
   * @param {object} prefill a previous ballot ({option: rank}) or {}
   * @param {object} helpers {id(suffix) → a unique id, announce(text) → polite status}
   */
  constructor(options, prefill, { id, announce }) {
    this.options = options;
    this.id = id;
    this.announce = announce;
    this.ranked = Object.entries(prefill)
      .filter(([key]) => options.includes(key))
      .sort((a, b) => a[1] - b[1])
      .map(([key]) => key);
    this.element = h("div", { class: "poll-rank" });
    this.element.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-rank-action]");
      if (button) this.act(button.dataset.rankAction, button.dataset.option);
    });
    this.render();
  }

  render(focusKey = null) {
    const pool = this.options.filter((key) => !this.ranked.includes(key));
    const button = (action, key, text, label, disabled = false) =>
      h("button", {
        type: "button",
        class: "button button-small poll-rank-button",
        "aria-label": label,
        "aria-disabled": disabled ? "true" : null,
        dataset: { rankAction: action, option: key, focusKey: `${action}:${key}` },
        text,
      });
    const rankedTitle = h("p", {
      class: "poll-rank-title",
      id: this.id("ranked"),
      text: t("js.poll.rank.ranked"),
    });
    const rankedList = this.ranked.length
      ? h(
          "ol",
          { class: "poll-rank-list", "aria-labelledby": rankedTitle.id },
          this.ranked.map((key, index) =>
            h(
              "li",
              { class: "poll-rank-item" },
              h("span", { class: "poll-rank-n", "aria-hidden": "true", text: String(index + 1) }),
              h("span", { class: "poll-rank-label", text: key }),
              h(
                "span",
                { class: "poll-rank-buttons" },
                button(
                  "up",
                  key,
                  t("js.poll.rank.up"),
                  t("js.poll.rank.up_label", { option: key }),
                  index === 0,
                ),
                button(
                  "down",
                  key,
                  t("js.poll.rank.down"),
                  t("js.poll.rank.down_label", { option: key }),
                  index === this.ranked.length - 1,
                ),
                button(
                  "remove",
                  key,
                  t("js.poll.rank.remove"),
                  t("js.poll.rank.remove_label", { option: key }),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "poll-rank-empty", text: t("js.poll.rank.empty") });
    const nodes = [rankedTitle, rankedList];
    if (pool.length) {
      const poolTitle = h("p", {
        class: "poll-rank-title",
        id: this.id("pool"),
        text: t("js.poll.rank.pool"),
      });
      nodes.push(
        poolTitle,
        h(
          "ul",
          { class: "poll-rank-pool", "aria-labelledby": poolTitle.id },
          pool.map((key) =>
            h(
              "li",
              { class: "poll-rank-item" },
              h("span", { class: "poll-rank-label", text: key }),
              h(
                "span",
                { class: "poll-rank-buttons" },
                button("add", key, t("js.poll.rank.add"), t("js.poll.rank.add_label", { option: key })),
              ),
            ),
          ),
        ),
      );
    }
    this.element.replaceChildren(...nodes);
    if (focusKey) {
      const target = [...this.element.querySelectorAll("button")].find(
        (b) => b.dataset.focusKey === focusKey,
      );
      target?.focus();
    }
  }

  act(action, key) {
    const list = this.ranked;
    const at = list.indexOf(key);
    let focus = `${action}:${key}`;
    let said = "";
    if (action === "add") {
      const pool = this.options.filter((k) => !list.includes(k));
      const poolIndex = pool.indexOf(key);
      list.push(key);
      const left = pool.filter((k) => k !== key);
      // Ranking several options in a row: the focus goes on to the next one to rank.
      focus = left.length ? `add:${left[Math.min(poolIndex, left.length - 1)]}` : `up:${key}`;
      said = t("js.poll.rank.added", { option: key, n: list.length });
    } else if (action === "remove") {
      list.splice(at, 1);
      focus = `add:${key}`;
      said = t("js.poll.rank.removed", { option: key });
    } else if (action === "up" || action === "down") {
      const to = action === "up" ? at - 1 : at + 1;
      if (to < 0 || to >= list.length) {
        this.announce(t(action === "up" ? "js.poll.rank.at_top" : "js.poll.rank.at_bottom", { option: key }));
        return;
      }
      [list[at], list[to]] = [list[to], list[at]];
      said = t("js.poll.rank.moved", { option: key, n: to + 1, total: list.length });
    }
    this.render(focus);
    this.announce(said);
  }

  read() {
    if (!this.ranked.length) {
      return { error: t("js.poll.error.rank_one"), focus: this.element.querySelector("button") };
    }
    return { ballot: Object.fromEntries(this.ranked.map((key, index) => [key, index + 1])) };
  }
}
