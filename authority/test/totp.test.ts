/** Two-factor codes: what py42 and the console send is matched as the user typed it. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { matchTotp, totpCode } from "../src/auth/totp.js";

const secret = randomBytes(20);
const at = (ms: number) => ({ now: () => ms });

/** A time whose code starts with 0 (about one step in ten). */
function stepWithLeadingZero(): { ms: number; code: string } {
  for (let ms = 1_800_000_000_000; ; ms += 30_000) {
    const code = totpCode(secret, ms);
    if (code.startsWith("0")) return { ms, code };
  }
}

describe("matchTotp", () => {
  it("takes a code that starts with 0 sent as a number, or as the digits str() makes of one", () => {
    const { ms, code } = stepWithLeadingZero();
    expect(matchTotp(secret, code, at(ms))).not.toBeNull();
    expect(matchTotp(secret, Number(code), at(ms))).not.toBeNull();
    expect(matchTotp(secret, String(Number(code)), at(ms))).not.toBeNull();
  });

  it("refuses a wrong, long, negative or non-numeric code", () => {
    const { ms, code } = stepWithLeadingZero();
    const wrong = String((Number(code) + 500_000) % 1_000_000).padStart(6, "0");
    expect(matchTotp(secret, wrong, at(ms))).toBeNull();
    expect(matchTotp(secret, `${code}1`, at(ms))).toBeNull();
    expect(matchTotp(secret, -Number(code), at(ms))).toBeNull();
    expect(matchTotp(secret, "12a456", at(ms))).toBeNull();
    expect(matchTotp(secret, null, at(ms))).toBeNull();
    for (const empty of ["", "   "]) expect(matchTotp(secret, empty, at(ms))).toBeNull();
    expect(matchTotp(secret, code, at(ms + 10 * 60_000))).toBeNull();
  });
});
