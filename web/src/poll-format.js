// Words and dates of the poll panel (polls.js): kinds, moments ("le 25/11 à 18 h 00"),
// relative times ("dans 2 jours"), option labels, and the secret-ballot receipts kept
// on this device.
import { locale, t } from "./i18n.js";

export const KINDS = ["single", "multiple", "consent", "ranked", "judgment", "score", "date"];
export const NONE = "_none"; // rooms.voting.NONE_OF_THESE
export const POSITIONS = ["pour", "abstention", "contre", "objection"];
export const GRADES = 7; // 0 "à rejeter" … 6 "excellent"
export const SCORE_MAX = 5;
export const DATE_ANSWERS = ["oui", "si besoin", "non"];

const dayMonth = new Intl.DateTimeFormat(locale, { day: "2-digit", month: "2-digit" });
const dayMonthYear = new Intl.DateTimeFormat(locale, { day: "2-digit", month: "2-digit", year: "numeric" });
const relative = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });

/** "le 25/11 à 18 h 00" (the year only when it is not this one). */
export function moment(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const format = date.getFullYear() === new Date().getFullYear() ? dayMonth : dayMonthYear;
  const time = t("js.poll.time", {
    h: date.getHours(),
    hh: String(date.getHours()).padStart(2, "0"),
    m: String(date.getMinutes()).padStart(2, "0"),
  });
  return t("js.poll.moment", { date: format.format(date), time });
}

/** "dans 2 jours", "dans 3 heures", "dans 25 minutes" (or "il y a …" when past). */
export function fromNow(iso, now = Date.now()) {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return "";
  const minutes = Math.round(ms / 60_000);
  if (Math.abs(minutes) < 60) return relative.format(minutes, "minute");
  const hours = Math.round(ms / 3_600_000);
  if (Math.abs(hours) < 24) return relative.format(hours, "hour");
  return relative.format(Math.round(ms / 86_400_000), "day");
}

/** A calendar day for a procuration's end: "15/12/2026". */
export function day(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  // A period proxy ends at midnight (Paris) after its last day: show that last day.
  return dayMonthYear.format(new Date(date.getTime() - 60_000));
}

/** What to tell the member about a refused or failed request (error frame or offline). */
export function errorText(error) {
  if (error?.message && error.type === "error") return error.message;
  if (error?.code === "offline" || error?.code === "timeout") return t(`js.error.${error.code}`);
  return t("js.error.generic");
}

export function kindName(kind) {
  return t(`js.poll.kind.${kind}`);
}

/** What an option key reads as: "_none" is "Aucune de ces options". */
export function optionLabel(poll, key) {
  if (key === NONE) return t("js.poll.none_option");
  if (poll.kind === "consent") return t(`js.poll.position.${key}`);
  return key;
}

export function gradeName(grade) {
  return t(`js.poll.grade.${grade}`);
}

export function dateAnswerName(answer) {
  return t(`js.poll.answer.${answer.replace(" ", "_")}`);
}

/** "50 %" */
export function percent(share) {
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }).format(share);
}

// -- secret ballots: the receipt that lets a voter change their ballot, on this device --
function receiptKey(roomId, pollId, voterId) {
  return `atelier.ballot.${roomId}.${pollId}.${voterId}`;
}

/** {receipt, ballot} stored when a secret ballot was cast from this device, or null. */
export function storedBallot(roomId, pollId, voterId) {
  try {
    const raw = localStorage.getItem(receiptKey(roomId, pollId, voterId));
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

export function storeBallot(roomId, pollId, voterId, receipt, ballot) {
  try {
    localStorage.setItem(receiptKey(roomId, pollId, voterId), JSON.stringify({ receipt, ballot }));
  } catch {
    // Private browsing or a full storage: the ballot stands; it just cannot be changed here.
  }
}

/** Forget the receipts of polls that are closed (nothing more can be changed). */
export function forgetBallots(roomId, pollId) {
  try {
    const prefix = `atelier.ballot.${roomId}.${pollId}.`;
    for (let i = localStorage.length - 1; i >= 0; i -= 1) {
      const key = localStorage.key(i);
      if (key && key.startsWith(prefix)) localStorage.removeItem(key);
    }
  } catch {
    // Nothing to do.
  }
}
