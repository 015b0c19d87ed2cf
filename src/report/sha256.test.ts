import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { base64Encode as base64 } from "../analyze/index.js";
import { cspHash, sha256 } from "./sha256.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("sha256 / base64 / cspHash", () => {
  it.each([
    // FIPS 180-4 / NIST CSRC example values.
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ],
  ])("sha256(%j) is the published digest", (text, digest) => {
    expect(hex(sha256(new TextEncoder().encode(text)))).toBe(digest);
  });

  it("base64 of 0, 1, 2 and 3 bytes follows RFC 4648 section 10", () => {
    const enc = (s: string) => base64(new TextEncoder().encode(s));
    expect([enc(""), enc("f"), enc("fo"), enc("foo"), enc("foob"), enc("fooba"), enc("foobar")]).toEqual([
      "",
      "Zg==",
      "Zm8=",
      "Zm9v",
      "Zm9vYg==",
      "Zm9vYmE=",
      "Zm9vYmFy",
    ]);
  });

  it("cspHash agrees with node:crypto on any text, across block boundaries (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (s) => {
        expect(cspHash(s)).toBe(`'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`);
      }),
      fcRuns(200),
    );
  });
});
