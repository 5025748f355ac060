// Money and time as a person reads them. Amounts are never floats: fiat amounts are integer
// minor units, shown with the currency's own exponent; crypto amounts are decimal strings,
// shown exactly as the API gives them, with their currency code.
import { FIAT_EXPONENTS } from "./currencies.js";
import { h } from "./dom.js";

const formatters = new Map();

// The exponent the API converts with (ISO 4217, payments.money), not the browser's Intl data,
// which shows HUF, COP, IDR, PKR... without decimals: 2500 forint minor units are HUF 25.00.
// null: not a fiat currency the API knows (a coin, whose amounts are decimal strings).
export function exponentOf(currency) {
  const code = String(currency || "").toUpperCase();
  return Object.hasOwn(FIAT_EXPONENTS, code) ? FIAT_EXPONENTS[code] : null;
}

function currencyFormatter(code) {
  if (!formatters.has(code)) {
    const digits = exponentOf(code);
    let formatter = null;
    try {
      formatter = new Intl.NumberFormat(undefined, {
        style: "currency",
        currency: code,
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });
    } catch {
      formatter = null; // a code this browser's Intl does not know: shown as decimal + code
    }
    formatters.set(code, formatter);
  }
  return formatters.get(code);
}

// 1234 with exponent 2 -> "12.34"; exact, by string arithmetic.
export function minorToDecimal(minor, exponent) {
  const negative = minor < 0;
  let digits = String(Math.abs(minor));
  if (exponent > 0) {
    digits = digits.padStart(exponent + 1, "0");
    digits = `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  }
  return negative ? `-${digits}` : digits;
}

// "12.34" with exponent 2 -> 1234; null when it is not such an amount (never parseFloat).
export function decimalToMinor(text, exponent) {
  const match = /^\s*(\d+)(?:[.,](\d*))?\s*$/.exec(String(text));
  if (!match) return null;
  const fraction = match[2] || "";
  if (fraction.length > exponent) return null;
  const minor = Number(`${match[1]}${fraction.padEnd(exponent, "0")}`);
  return Number.isSafeInteger(minor) ? minor : null;
}

export function money(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "—";
  const code = String(currency || "").toUpperCase();
  if (typeof amount === "string") return `${amount} ${code}`; // crypto: exact decimal string
  const exponent = exponentOf(code);
  if (exponent === null) return `${amount} ${code}`;
  const decimal = minorToDecimal(amount, exponent);
  const formatter = currencyFormatter(code);
  // Intl formats a decimal string exactly (no float rounding on the way).
  return formatter ? formatter.format(decimal) : `${decimal} ${code}`;
}

// For chart axes only (never shown as the amount itself).
export function chartNumber(amount, currency) {
  if (typeof amount === "string") return Number(amount);
  return Number(minorToDecimal(amount, exponentOf(currency) ?? 0));
}

const localDay = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const localTime = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

export function utcText(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "").replace("Z", "")} UTC`;
}

// <time> in the viewer's zone, with the UTC time on hover.
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h("span", {}, String(iso));
  // The day and the time each kept whole: a narrow column wraps between them, not inside.
  return h("time", { datetime: date.toISOString(), title: utcText(iso) },
    h("span", { class: "nowrap" }, localDay.format(date)), " ",
    h("span", { class: "nowrap" }, localTime.format(date)));
}

export function percent(rate) {
  if (rate === null || rate === undefined) return "—";
  return `${(rate * 100).toFixed(1)} %`;
}

export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}
