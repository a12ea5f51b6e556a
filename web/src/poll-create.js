// "Nouveau vote": the form a copilot fills to open a poll (frame `poll.create`, see
// docs/protocol.md), in a modal <dialog> (focus kept inside, Échap closes it). Also the
// deadline picker shared with "Prolonger…" on an open poll.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { KINDS, errorText, kindName } from "./poll-format.js";

const MINUTE = 60_000;
const PRESETS = [
  { value: "60", key: "hour" },
  { value: "1440", key: "day" },
  { value: "4320", key: "days3" },
  { value: "10080", key: "week" },
  { value: "20160", key: "weeks2" },
];

/** "2026-11-25T18:00" for a datetime-local input, in the browser's time. */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * A deadline: a <select> of durations ("dans 1 jour", or "1 jour de plus" after
 * `base`), "none" when `allowNone`, and "À une date précise…" revealing a datetime-local.
 * `minutes()` → minutes from now, null (none) or {error, focus}.
 */
export class DeadlinePicker {
  constructor({ prefix, label, base = null, allowNone = false, noneText = "", onChange = null }) {
    this.base = base ? Date.parse(base) : null;
    this.select = h("select", { id: `${prefix}-when` });
    if (allowNone) this.select.append(h("option", { value: "", text: noneText }));
    for (const preset of PRESETS) {
      const key = this.base ? `js.poll.later.${preset.key}` : `js.poll.in.${preset.key}`;
      this.select.append(h("option", { value: preset.value, text: t(key) }));
    }
    this.select.append(h("option", { value: "at", text: t("js.poll.at_date") }));
    if (!allowNone) this.select.value = "1440";
    const start = new Date((this.base && this.base > Date.now() ? this.base : Date.now()) + 86_400_000);
    start.setMinutes(0, 0, 0);
    // Attributes, not properties: a form reset comes back to them.
    this.input = h("input", {
      type: "datetime-local",
      id: `${prefix}-at`,
      value: localInput(start),
      min: localInput(new Date()),
    });
    this.atField = h(
      "div",
      { class: "poll-field poll-at", hidden: true },
      h("label", { for: this.input.id, text: t("js.poll.at_label") }),
      this.input,
    );
    this.select.addEventListener("change", () => {
      this.atField.hidden = this.select.value !== "at";
      onChange?.();
    });
    this.element = h(
      "div",
      { class: "poll-deadline" },
      h("div", { class: "poll-field" }, h("label", { for: this.select.id, text: label }), this.select),
      this.atField,
    );
  }

  get isNone() {
    return this.select.value === "";
  }

  minutes() {
    const value = this.select.value;
    if (value === "") return null;
    if (value === "at") {
      const at = new Date(this.input.value).getTime();
      if (Number.isNaN(at) || at <= Date.now()) {
        this.input.setAttribute("aria-invalid", "true");
        return { error: t("js.poll.error.past"), focus: this.input };
      }
      this.input.removeAttribute("aria-invalid");
      return Math.ceil((at - Date.now()) / MINUTE);
    }
    const from = this.base && this.base > Date.now() ? this.base : Date.now();
    return Math.ceil((from + Number(value) * MINUTE - Date.now()) / MINUTE);
  }
}

export class PollCreator {
  /**
   * @param {object} options
   * @param {number} options.roomId
   * @param {(frame: object) => Promise<object>} options.request ack or the error frame
   * @param {() => string} options.topic the topic to suggest (the current filter)
   * @param {(pollId: number) => void} options.onCreated
   */
  constructor({ roomId, request, topic, onCreated }) {
    Object.assign(this, { roomId, request, topic, onCreated });
    this.opener = null;
    this.build();
  }

  field(id, label, control, hint = null) {
    if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
    return h(
      "div",
      { class: "poll-field" },
      h("label", { for: id, text: label }),
      hint ? h("p", { class: "field-hint", id: `${id}-hint`, text: hint }) : null,
      control,
    );
  }

  check(id, label, hint = null) {
    const input = h("input", { type: "checkbox", id, "aria-describedby": hint ? `${id}-hint` : null });
    return {
      input,
      element: h(
        "div",
        { class: "poll-field" },
        h("label", { class: "choice", for: id }, input, h("span", { text: label })),
        hint ? h("p", { class: "field-hint poll-check-hint", id: `${id}-hint`, text: hint }) : null,
      ),
    };
  }

  radios(name, keyBase, legend, values, checked, hint = null) {
    const inputs = values.map((value) =>
      h("input", { type: "radio", name, id: `${name}-${value}`, value, checked: value === checked }),
    );
    const element = h(
      "fieldset",
      { class: "poll-field", "aria-describedby": hint ? `${name}-hint` : null },
      h("legend", { text: legend }),
      hint ? h("p", { class: "field-hint", id: `${name}-hint`, text: hint }) : null,
      values.map((value, i) =>
        h(
          "label",
          { class: "choice", for: inputs[i].id },
          inputs[i],
          h("span", { text: t(`${keyBase}.${value}`) }),
        ),
      ),
    );
    return { inputs, element, value: () => inputs.find((input) => input.checked)?.value };
  }

  build() {
    const p = "poll-new";
    this.question = h("textarea", { id: `${p}-question`, rows: 2, maxlength: 2000, required: true });
    this.kind = h(
      "select",
      { id: `${p}-kind`, "aria-describedby": `${p}-kind-hint` },
      KINDS.map((kind) => h("option", { value: kind, text: kindName(kind) })),
    );
    this.kindHint = h("p", { class: "field-hint", id: `${p}-kind-hint` });
    this.options = h("textarea", { id: `${p}-options`, rows: 4, "aria-describedby": `${p}-options-hint` });
    this.optionsLabel = h("label", { for: this.options.id });
    this.optionsHint = h("p", { class: "field-hint", id: `${p}-options-hint` });
    this.optionsField = h("div", { class: "poll-field" }, this.optionsLabel, this.optionsHint, this.options);
    this.consentNote = h("p", { class: "poll-note", text: t("js.poll.new.consent_note") });

    // Kind-specific rules.
    this.min = h("input", {
      type: "number",
      id: `${p}-min`,
      min: 0,
      max: 50,
      value: 1,
      inputmode: "numeric",
    });
    this.max = h("input", { type: "number", id: `${p}-max`, min: 1, max: 50, inputmode: "numeric" });
    this.bounds = h(
      "div",
      { class: "poll-row" },
      this.field(this.min.id, t("js.poll.new.min"), this.min),
      this.field(this.max.id, t("js.poll.new.max"), this.max, t("js.poll.new.max_hint")),
    );
    this.none = this.check(`${p}-none`, t("js.poll.new.none_option"));
    this.ties = this.check(`${p}-ties`, t("js.poll.new.allow_ties"));
    this.reasons = this.radios(
      `${p}-reasons`,
      "js.poll.reasons_mode",
      t("js.poll.new.reasons"),
      ["off", "optional", "required", "dissent"],
      "dissent",
    );

    // How it runs.
    this.topicInput = h("input", {
      type: "text",
      id: `${p}-topic`,
      maxlength: 60,
      list: "topic-options",
      autocomplete: "off",
    });
    this.secret = this.check(`${p}-secret`, t("js.poll.new.secret"), t("js.poll.new.secret_hint"));
    this.visibility = this.radios(
      `${p}-visibility`,
      "js.poll.visibility",
      t("js.poll.new.visibility"),
      ["live", "after_vote", "closed"],
      "live",
      t("js.poll.new.visibility_hint"),
    );
    this.secretLive = h("p", {
      class: "poll-note",
      id: `${p}-secret-live`,
      text: t("js.poll.new.secret_live"),
    });
    this.quorum = h("input", {
      type: "number",
      id: `${p}-quorum`,
      class: "poll-narrow",
      min: 1,
      max: 100,
      step: 1,
      inputmode: "numeric",
    });
    this.deadline = new DeadlinePicker({
      prefix: `${p}-close`,
      label: t("js.poll.new.deadline"),
      allowNone: true,
      noneText: t("js.poll.new.no_deadline"),
      onChange: () => this.sync(),
    });
    this.deadline.select.value = "4320";
    this.opening = new DeadlinePicker({
      prefix: `${p}-open`,
      label: t("js.poll.new.opening"),
      allowNone: true,
      noneText: t("js.poll.new.open_now"),
    });
    this.remind = h(
      "select",
      { id: `${p}-remind` },
      h("option", { value: "", text: t("js.poll.new.remind.none") }),
      h("option", { value: "60", text: t("js.poll.new.remind.hour") }),
      h("option", { value: "1440", text: t("js.poll.new.remind.day") }),
    );
    this.remindField = this.field(
      this.remind.id,
      t("js.poll.new.remind"),
      this.remind,
      t("js.poll.new.remind_hint"),
    );

    this.alertBox = h("div", { class: "poll-alert", role: "alert" });
    this.submit = h("button", {
      type: "submit",
      class: "button button-primary",
      text: t("js.poll.new.submit"),
    });
    this.form = h(
      "form",
      { class: "poll-new-form", novalidate: true },
      h(
        "div",
        { class: "poll-dialog-head" },
        h("h2", { id: `${p}-title`, class: "poll-dialog-title", text: t("js.poll.new.title") }),
        h("button", {
          type: "button",
          class: "button button-quiet button-small",
          text: t("js.close"),
          onclick: () => this.close(),
        }),
      ),
      this.field(this.question.id, t("js.poll.new.question"), this.question),
      this.field(this.kind.id, t("js.poll.new.kind"), this.kind),
      this.kindHint,
      this.optionsField,
      this.consentNote,
      this.bounds,
      this.none.element,
      this.ties.element,
      this.reasons.element,
      h(
        "fieldset",
        { class: "poll-group" },
        h("legend", { text: t("js.poll.new.running") }),
        this.field(this.topicInput.id, t("js.poll.new.topic"), this.topicInput, t("js.poll.new.topic_hint")),
        this.secret.element,
        this.visibility.element,
        this.secretLive,
        this.field(this.quorum.id, t("js.poll.new.quorum"), this.quorum, t("js.poll.new.quorum_hint")),
        this.deadline.element,
        this.remindField,
        this.opening.element,
      ),
      this.alertBox,
      h(
        "div",
        { class: "poll-buttons" },
        this.submit,
        h("button", {
          type: "button",
          class: "button",
          text: t("js.poll.cancel"),
          onclick: () => this.close(),
        }),
      ),
    );
    this.dialog = h("dialog", { class: "poll-dialog", id: p, "aria-labelledby": `${p}-title` }, this.form);
    this.kind.addEventListener("change", () => this.sync());
    this.form.addEventListener("change", (event) => {
      if (event.target.type === "checkbox" || event.target.type === "radio") this.sync();
    });
    this.opening.select.addEventListener("change", () => this.sync());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.dialog.addEventListener("close", () => this.opener?.focus());
    this.sync();
  }

  /** Show the fields that apply to the chosen kind and deadline. */
  sync() {
    const kind = this.kind.value;
    this.kindHint.textContent = t(`js.poll.kind_hint.${kind}`);
    this.optionsField.hidden = kind === "consent";
    this.consentNote.hidden = kind !== "consent";
    this.optionsLabel.textContent = t(kind === "date" ? "js.poll.new.slots" : "js.poll.new.options");
    this.optionsHint.textContent = t(kind === "date" ? "js.poll.new.slots_hint" : "js.poll.new.options_hint");
    this.bounds.hidden = kind !== "multiple";
    this.none.element.hidden = kind !== "single" && kind !== "multiple";
    this.ties.element.hidden = kind !== "ranked";
    this.reasons.element.hidden = kind !== "consent";
    this.remindField.hidden = this.deadline.isNone;
    // Live counts of a secret ballot tell who voted what when votes come one by one.
    this.secretLive.hidden = !(this.secret.input.checked && this.visibility.value() === "live");
    this.submit.textContent = t(this.opening.isNone ? "js.poll.new.submit" : "js.poll.new.schedule");
  }

  /** Back to the defaults for the next poll. */
  reset() {
    this.form.reset();
    for (const picker of [this.deadline, this.opening]) picker.atField.hidden = true;
    this.deadline.select.value = "4320";
    this.topicInput.value = "";
    this.alertBox.replaceChildren();
    this.sync();
  }

  open(opener) {
    this.opener = opener;
    this.alertBox.replaceChildren();
    if (!this.topicInput.value) this.topicInput.value = this.topic();
    this.dialog.showModal();
    this.question.focus();
  }

  close() {
    this.dialog.close();
  }

  fail(text, focus = null) {
    this.alertBox.replaceChildren(h("p", { text }));
    focus?.focus();
  }

  /** The `poll.create` frame, or {error, focus}. */
  frame() {
    const kind = this.kind.value;
    const question = this.question.value.trim();
    if (!question) return { error: t("js.poll.error.question"), focus: this.question };
    const frame = {
      type: "poll.create",
      room_id: this.roomId,
      topic: this.topicInput.value.trim().replace(/\s+/g, " ") || this.topic(),
      kind,
      question,
      options: [],
      settings: {},
      secret: this.secret.input.checked,
      visibility: this.visibility.value(),
    };
    if (kind !== "consent") {
      const options = this.options.value
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
      if (options.length < 2) return { error: t("js.poll.error.options"), focus: this.options };
      const twice = options.find((option, i) => options.indexOf(option) !== i);
      if (twice) return { error: t("js.poll.error.duplicate", { option: twice }), focus: this.options };
      frame.options = options;
    }
    if (kind === "single" || kind === "multiple") {
      if (this.none.input.checked) frame.settings.none_option = true;
    }
    if (kind === "multiple") {
      const n = frame.options.length;
      const low = this.min.value === "" ? 1 : Number(this.min.value);
      const high = this.max.value === "" ? null : Number(this.max.value);
      if (!Number.isInteger(low) || low < 0 || low > n) {
        return { error: t("js.poll.error.min", { n }), focus: this.min };
      }
      if (high !== null && (!Number.isInteger(high) || high < Math.max(low, 1) || high > n)) {
        return { error: t("js.poll.error.max", { min: Math.max(low, 1), n }), focus: this.max };
      }
      frame.settings.min_choices = low;
      if (high !== null) frame.settings.max_choices = high;
    }
    if (kind === "ranked" && this.ties.input.checked) frame.settings.allow_ties = true;
    if (kind === "consent") frame.settings.reasons = this.reasons.value();
    if (this.quorum.value !== "") {
      const share = Number(this.quorum.value);
      if (!(share > 0 && share <= 100)) return { error: t("js.poll.error.quorum"), focus: this.quorum };
      frame.quorum = share / 100;
    }
    const closes = this.deadline.minutes();
    if (closes?.error) return closes;
    const opens = this.opening.minutes();
    if (opens?.error) return opens;
    if (opens !== null) frame.opens_in_minutes = opens;
    if (closes !== null) {
      // A duration counts from the opening when the poll is scheduled.
      const fromOpening = opens !== null && this.deadline.select.value !== "at";
      frame.closes_in_minutes = fromOpening ? closes + opens : closes;
      if (this.remind.value) frame.remind_minutes = Number(this.remind.value);
    }
    return frame;
  }

  async send() {
    const frame = this.frame();
    if (frame.error) {
      this.fail(frame.error, frame.focus);
      return;
    }
    this.submit.disabled = true;
    try {
      const ack = await this.request(frame);
      this.reset();
      this.opener = null;
      this.dialog.close();
      this.onCreated(ack.poll_id, frame);
    } catch (error) {
      this.fail(errorText(error));
    } finally {
      this.submit.disabled = false;
    }
  }
}
