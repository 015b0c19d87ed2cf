/**
 * Escaping of untrusted text (process names, paths, resource names) for the two places it is
 * shown: inside the HTML report's JSON data island and on a terminal.
 */

/**
 * Serialises `value` as JSON that is safe inside `<script type="application/json">`: `<`, `>`,
 * `&`, U+2028 and U+2029 become `\uXXXX` escapes, so no data can close the script element, open a
 * comment, or break a JavaScript string. JSON.parse of the result gives `value` back exactly. O(n).
 * @param value any JSON-able value.
 * @returns the escaped JSON text.
 * @throws TypeError when `value` is not serialisable (cycles, BigInt).
 */
export function jsonForScript(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError("report data is invalid: it serialises to nothing");
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * C0 and C1 controls, DEL, and the bidirectional formatting characters of Unicode UAX #9 (ALM
 * U+061C, LRM/RLM U+200E-U+200F, embeddings and overrides U+202A-U+202E, isolates U+2066-U+2069):
 * a U+202E in a process name would show "dhss" as "sshd".
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeUnsafe(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Makes untrusted text safe to print on a terminal: C0 and C1 control characters and DEL (which
 * could move the cursor, recolour or retitle the terminal) become `\xNN` escapes, and bidi
 * formatting characters (which reorder what is shown) become `\uNNNN` escapes. O(n).
 * @param text untrusted text.
 * @returns printable text.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escapeUnsafe);
}

/**
 * A copy of `value` with every string passed through {@link terminalSafe}, for showing untrusted
 * text in the HTML report: there too a bidi override would reorder a name, and a control
 * character has no visible form. The JSON output keeps the exact strings. O(size of value).
 * @param value any JSON-able value.
 * @returns the same shape with display-safe strings.
 */
export function displaySafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "string" ? terminalSafe(v) : v))) as T;
}

/**
 * Escapes text for an HTML text node or a double-quoted attribute (`& < > " '`). The report
 * never puts data into markup; this is for the few fixed strings the generator writes. O(n).
 * @param text any text.
 * @returns the escaped text.
 */
export function htmlText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
