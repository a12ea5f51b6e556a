// One ballot form of the poll panel, by kind (shapes: docs/voting.md "Ballot shapes"):
// single → radio buttons; multiple → checkboxes; consent → positions and a reason;
// ranked → an ordered list moved with "Monter" / "Descendre" buttons (no dragging), or a
// rank per option when ties are allowed; judgment → a mention per option; score → a
// note per option; date → oui / si besoin / non per slot.
//
// `new BallotForm(poll, options)`: `element` is a <fieldset>; `read()` returns
// `{ballot}` or `{error, focus}` (the control to put the focus on).
import { h } from "./dom.js";
import { t, tn } from "./i18n.js";
import { RankList } from "./poll-rank.js";
import {
  DATE_ANSWERS,
  GRADES,
  NONE,
  POSITIONS,
  SCORE_MAX,
  dateAnswerName,
  gradeName,
  optionLabel,
} from "./poll-format.js";

export class BallotForm {
  /**
   * @param {object} poll the poll's shape (GET /api/rooms/N/polls)
   * @param {object} options
   * @param {string} options.prefix unique id prefix of this form's controls
   * @param {string} options.legend what the fieldset is ("Votre vote", "Vote de X")
   * @param {*} options.prefill a previous ballot to start from, or null
   * @param {(text: string) => void} options.announce polite status for screen readers
   */
  constructor(poll, { prefix, legend, prefill, announce }) {
    this.poll = poll;
    this.prefix = prefix;
    this.announce = announce;
    this.settings = poll.settings || {};
    const help = h("p", { class: "poll-help", id: `${prefix}-help`, text: this.helpText() });
    this.element = h(
      "fieldset",
      { class: `poll-ballot poll-ballot-${poll.kind}`, "aria-describedby": help.id },
      h("legend", { class: "poll-legend", text: legend }),
      help,
    );
    this.build(prefill ?? null);
  }

  id(suffix) {
    return `${this.prefix}-${suffix}`;
  }

  helpText() {
    const s = this.settings;
    switch (this.poll.kind) {
      case "single":
        return t("js.poll.help.single");
      case "multiple": {
        const n = this.poll.options.length;
        const low = s.min_choices ?? 1;
        const high = s.max_choices ?? n;
        if (low === high) return tn("js.poll.help.multiple_exact", low);
        if (low === 0 && high === n) return t("js.poll.help.multiple_any");
        if (low === 0) return tn("js.poll.help.multiple_max", high);
        if (high === n) return tn("js.poll.help.multiple_min", low);
        return t("js.poll.help.multiple_between", { min: low, max: high });
      }
      case "consent":
        return t("js.poll.help.consent");
      case "ranked":
        return t(s.allow_ties ? "js.poll.help.ranked_ties" : "js.poll.help.ranked");
      case "judgment":
        return t("js.poll.help.judgment");
      case "score":
        return t("js.poll.help.score", { max: SCORE_MAX });
      case "date":
        return t("js.poll.help.date");
      default:
        return "";
    }
  }

  build(prefill) {
    const kind = this.poll.kind;
    if (kind === "single") this.buildChoices("radio", prefill === null ? [] : [prefill]);
    else if (kind === "multiple") this.buildChoices("checkbox", Array.isArray(prefill) ? prefill : []);
    else if (kind === "consent") this.buildConsent(prefill || {});
    else if (kind === "ranked" && this.settings.allow_ties) this.buildRankSelects(prefill || {});
    else if (kind === "ranked") {
      this.rank = new RankList(this.poll.options, prefill || {}, {
        id: (x) => this.id(x),
        announce: this.announce,
      });
      this.element.append(this.rank.element);
    } else if (kind === "judgment") this.buildSelects(prefill || {}, "grade");
    else if (kind === "score") this.buildSelects(prefill || {}, "score");
    else if (kind === "date") this.buildDates(prefill || {});
  }

  // -- single, multiple ----------------------------------------------------------------
  buildChoices(type, chosen) {
    const keys = [...this.poll.options];
    if (this.settings.none_option) keys.push(NONE);
    this.inputs = keys.map((key, index) =>
      h("input", {
        type,
        name: this.id("choice"),
        id: this.id(`c${index}`),
        value: key,
        checked: chosen.includes(key),
        dataset: { focusKey: `c${index}` },
      }),
    );
    const list = h(
      "div",
      { class: "poll-choices" },
      keys.map((key, index) =>
        h(
          "label",
          {
            class: `choice poll-choice${key === NONE ? " poll-choice-none" : ""}`,
            for: this.inputs[index].id,
          },
          this.inputs[index],
          h("span", { text: optionLabel(this.poll, key) }),
        ),
      ),
    );
    if (type === "checkbox" && this.settings.none_option) {
      // "Aucune de ces options" excludes the others (and the other way round).
      list.addEventListener("change", (event) => {
        const input = event.target;
        if (!input.checked) return;
        for (const other of this.inputs) {
          if (other !== input && (input.value === NONE || other.value === NONE)) other.checked = false;
        }
      });
    }
    this.element.append(list);
  }

  readChoices() {
    const chosen = this.inputs.filter((input) => input.checked).map((input) => input.value);
    if (this.poll.kind === "single") {
      if (!chosen.length) return { error: t("js.poll.error.choose_one"), focus: this.inputs[0] };
      return { ballot: chosen[0] };
    }
    if (chosen.includes(NONE)) return { ballot: [NONE] };
    const low = this.settings.min_choices ?? 1;
    const high = this.settings.max_choices ?? this.poll.options.length;
    if (chosen.length < low) return { error: tn("js.poll.error.too_few", low), focus: this.inputs[0] };
    if (chosen.length > high) return { error: tn("js.poll.error.too_many", high), focus: this.inputs[0] };
    return { ballot: chosen };
  }

  // -- consent -----------------------------------------------------------------------------
  buildConsent(prefill) {
    this.inputs = POSITIONS.map((position) =>
      h("input", {
        type: "radio",
        name: this.id("position"),
        id: this.id(position),
        value: position,
        checked: prefill.position === position,
        dataset: { focusKey: position },
      }),
    );
    const list = h(
      "div",
      { class: "poll-choices" },
      POSITIONS.map((position, index) =>
        h(
          "label",
          { class: `choice poll-choice poll-position-${position}`, for: this.inputs[index].id },
          this.inputs[index],
          h(
            "span",
            {},
            h("strong", { text: t(`js.poll.position.${position}`) }),
            h("span", { class: "poll-choice-hint", text: ` — ${t(`js.poll.position_hint.${position}`)}` }),
          ),
        ),
      ),
    );
    this.element.append(list);
    this.mode = this.settings.reasons || (this.settings.require_reason ? "dissent" : "optional");
    this.reason = null;
    if (this.mode === "off") return;
    this.reason = h("textarea", {
      id: this.id("reason"),
      rows: 2,
      maxlength: 2000,
      "aria-describedby": this.id("reason-hint"),
      dataset: { focusKey: "reason" },
    });
    this.reason.value = prefill.reason || "";
    this.element.append(
      h(
        "div",
        { class: "poll-reason" },
        h("label", { for: this.reason.id, text: t(`js.poll.reason.${this.mode}`) }),
        h("p", {
          class: "field-hint",
          id: this.id("reason-hint"),
          text: t(`js.poll.reason_hint.${this.mode}`),
        }),
        this.reason,
      ),
    );
  }

  readConsent() {
    const chosen = this.inputs.find((input) => input.checked);
    if (!chosen) return { error: t("js.poll.error.position"), focus: this.inputs[0] };
    const ballot = { position: chosen.value };
    const reason = this.reason ? this.reason.value.trim() : "";
    const needed =
      this.mode === "required" || (this.mode === "dissent" && ["contre", "objection"].includes(chosen.value));
    if (needed && !reason) {
      this.reason.setAttribute("aria-invalid", "true");
      return { error: t(`js.poll.error.reason_${this.mode}`), focus: this.reason };
    }
    this.reason?.removeAttribute("aria-invalid");
    if (reason) ballot.reason = reason;
    return { ballot };
  }

  // -- ranked with ties, judgment, score: a <select> per option -----------------------------
  buildRankSelects(prefill) {
    const n = this.poll.options.length;
    const choices = [{ value: "", text: t("js.poll.rank.unranked") }];
    for (let rank = 1; rank <= n; rank += 1) {
      choices.push({ value: String(rank), text: rank === 1 ? t("js.poll.rank.first") : String(rank) });
    }
    this.buildSelectGrid(prefill, choices);
  }

  buildSelects(prefill, what) {
    const choices = [{ value: "", text: t(`js.poll.choose_${what}`) }];
    if (what === "grade") {
      for (let grade = GRADES - 1; grade >= 0; grade -= 1)
        choices.push({ value: String(grade), text: gradeName(grade) });
    } else {
      for (let score = 0; score <= SCORE_MAX; score += 1)
        choices.push({ value: String(score), text: String(score) });
    }
    this.buildSelectGrid(prefill, choices);
  }

  buildSelectGrid(prefill, choices) {
    this.selects = this.poll.options.map((key, index) => {
      const select = h(
        "select",
        { id: this.id(`s${index}`), dataset: { option: key, focusKey: `s${index}` } },
        choices.map((c) => h("option", { value: c.value, text: c.text })),
      );
      if (prefill[key] !== undefined && prefill[key] !== null) select.value = String(prefill[key]);
      return select;
    });
    this.element.append(
      h(
        "div",
        { class: "poll-grid" },
        this.poll.options.map((key, index) =>
          h(
            "div",
            { class: "poll-grid-row" },
            h("label", { for: this.selects[index].id, class: "poll-grid-label", text: key }),
            this.selects[index],
          ),
        ),
      ),
    );
  }

  readSelects() {
    const ballot = {};
    const kind = this.poll.kind;
    for (const select of this.selects) {
      select.removeAttribute("aria-invalid");
      if (select.value === "") {
        if (kind === "ranked") continue;
        select.setAttribute("aria-invalid", "true");
        return {
          error: t(`js.poll.error.missing_${kind}`, { option: select.dataset.option }),
          focus: select,
        };
      }
      ballot[select.dataset.option] = Number(select.value);
    }
    if (kind === "ranked" && !Object.keys(ballot).length) {
      return { error: t("js.poll.error.rank_one"), focus: this.selects[0] };
    }
    return { ballot };
  }

  // -- date: oui / si besoin / non per slot ------------------------------------------------
  buildDates(prefill) {
    this.slots = this.poll.options.map((key, index) => {
      const inputs = DATE_ANSWERS.map((answer, a) =>
        h("input", {
          type: "radio",
          name: this.id(`d${index}`),
          id: this.id(`d${index}-${a}`),
          value: answer,
          checked: prefill[key] === answer,
          dataset: { focusKey: `d${index}-${a}` },
        }),
      );
      const fieldset = h(
        "fieldset",
        { class: "poll-slot" },
        h("legend", { class: "poll-slot-label", text: key }),
        h(
          "div",
          { class: "poll-slot-answers" },
          inputs.map((input, a) =>
            h(
              "label",
              { class: `choice poll-answer poll-answer-${a}`, for: input.id },
              input,
              h("span", { text: dateAnswerName(DATE_ANSWERS[a]) }),
            ),
          ),
        ),
      );
      return { key, inputs, fieldset };
    });
    this.element.append(
      h(
        "div",
        { class: "poll-slots" },
        this.slots.map((slot) => slot.fieldset),
      ),
    );
  }

  readDates() {
    const ballot = {};
    for (const slot of this.slots) {
      const chosen = slot.inputs.find((input) => input.checked);
      if (!chosen)
        return { error: t("js.poll.error.missing_date", { option: slot.key }), focus: slot.inputs[0] };
      ballot[slot.key] = chosen.value;
    }
    return { ballot };
  }

  read() {
    const kind = this.poll.kind;
    if (kind === "single" || kind === "multiple") return this.readChoices();
    if (kind === "consent") return this.readConsent();
    if (kind === "ranked" && !this.settings.allow_ties) return this.rank.read();
    if (kind === "date") return this.readDates();
    return this.readSelects();
  }
}

/** A ballot in words, to remind the voter what they chose: "Plan A", "Pour — motif". */
export function describeBallot(poll, ballot) {
  if (ballot === null || ballot === undefined) return "";
  switch (poll.kind) {
    case "single":
      return optionLabel(poll, ballot);
    case "multiple":
      return ballot.length ? ballot.map((key) => optionLabel(poll, key)).join(", ") : t("js.poll.blank");
    case "consent":
      return ballot.reason
        ? `${t(`js.poll.position.${ballot.position}`)} — ${ballot.reason}`
        : t(`js.poll.position.${ballot.position}`);
    case "ranked":
      return Object.entries(ballot)
        .sort((a, b) => a[1] - b[1])
        .map(([key, rank]) => `${rank}. ${key}`)
        .join(" ; ");
    case "judgment":
      return Object.entries(ballot)
        .map(([key, grade]) => `${key} : ${gradeName(grade)}`)
        .join(" ; ");
    case "score":
      return Object.entries(ballot)
        .map(([key, score]) => `${key} : ${score}`)
        .join(" ; ");
    case "date":
      return Object.entries(ballot)
        .map(([key, answer]) => `${key} : ${dateAnswerName(answer)}`)
        .join(" ; ");
    default:
      return "";
  }
}
