import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { htmlText, jsonForScript, terminalSafe } from "./escape.js";

describe("jsonForScript", () => {
  it("escapes < > & U+2028 U+2029 as \\u escapes (fixed cases)", () => {
    expect(jsonForScript("</script>")).toBe('"\\u003c/script\\u003e"');
    expect(jsonForScript("a&b")).toBe('"a\\u0026b"');
    expect(jsonForScript("\u2028\u2029")).toBe('"\\u2028\\u2029"');
    expect(jsonForScript({ k: "<!--" })).toBe('{"k":"\\u003c!--"}');
  });

  it("round-trips any JSON value and never emits a raw < > & or line separator (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: "binary" }), (v, s) => {
        for (const value of [v, s, { s, v }]) {
          const out = jsonForScript(value);
          expect(/[<>&\u2028\u2029]/.test(out)).toBe(false);
          expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(value)));
        }
      }),
      fcRuns(300),
    );
  });

  it("rejects values that serialise to nothing with a TypeError", () => {
    expect(() => jsonForScript(undefined)).toThrow(TypeError);
    expect(() => jsonForScript(() => 1)).toThrow(/serialises to nothing/);
  });
});

describe("terminalSafe", () => {
  it("escapes control characters, keeps printable text (fixed cases)", () => {
    expect(terminalSafe("\u001b[31mred")).toBe("\\x1b[31mred");
    expect(terminalSafe("a\nb\tc\u007f\u009b")).toBe("a\\x0ab\\x09c\\x7f\\x9b");
    expect(terminalSafe("nginx: worker <é>")).toBe("nginx: worker <é>");
  });

  it("never leaves a C0/C1 control character (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        expect(/[\u0000-\u001f\u007f-\u009f]/.test(terminalSafe(s))).toBe(false);
      }),
      fcRuns(300),
    );
  });
});

describe("htmlText", () => {
  it("escapes the five markup characters", () => {
    expect(htmlText(`<a href="x">'&'</a>`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });
});
