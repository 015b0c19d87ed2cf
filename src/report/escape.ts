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
 * Makes untrusted text safe to print on a terminal: C0 and C1 control characters and DEL (which
 * could move the cursor, recolour or retitle the terminal) become `\xNN` escapes. O(n).
 * @param text untrusted text.
 * @returns printable text.
 */
export function terminalSafe(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
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
