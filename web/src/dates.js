// Relative French dates: "aujourd'hui 14:03", "hier 09:12", "12 mars 14:03".
import { locale, t } from "./i18n.js";

const timeFormat = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(locale, { day: "numeric", month: "long" });
const yearFormat = new Intl.DateTimeFormat(locale, {
  day: "numeric",
  month: "long",
  year: "numeric",
});
const fullFormat = new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "short" });

function dayNumber(date) {
  return Math.floor(
    Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) / 86_400_000,
  );
}

export function formatWhen(iso, now = new Date()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const time = timeFormat.format(date);
  const days = dayNumber(now) - dayNumber(date);
  if (days === 0) return t("js.date.today", { time });
  if (days === 1) return t("js.date.yesterday", { time });
  const format = date.getFullYear() === now.getFullYear() ? dayFormat : yearFormat;
  return t("js.date.other", { date: format.format(date), time });
}

export function formatFull(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : fullFormat.format(date);
}
