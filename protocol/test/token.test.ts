import { describe, expect, it } from "vitest";
import { DAY_MS, ManualClock } from "../src/clock.js";
import { isCairnError } from "../src/errors.js";
import {
  exportSigningKey,
  generateSigningKey,
  importPublicKey,
  importSigningKey,
  publicKeyInfo,
  signToken,
  type StorageClaims,
  verifyToken,
} from "../src/token.js";

const claims = {
  typ: "storage",
  iss: "100000000000000001",
  sub: "200000000000000002",
  aud: "300000000000000003",
  dev: "200000000000000002",
  usr: "400000000000000004",
  org: "500000000000000005",
  arc: "600000000000000006",
  dst: "300000000000000003",
  scope: "all",
} as const;

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isCairnError(e) ? e.code : String(e);
  }
  return undefined;
}

describe("signed tokens", () => {
  const key = generateSigningKey();
  const keys = (kid: string) => (kid === key.kid ? key.publicKey : undefined);

  it("verifies offline with the public key and carries the claims", () => {
    const clock = new ManualClock();
    const t = signToken(claims, key, clock, 7 * DAY_MS);
    const c = verifyToken<StorageClaims>(t, keys, clock, { typ: "storage", aud: claims.aud });
    expect(c.arc).toBe(claims.arc);
    expect(c.exp - c.iat).toBe(7 * 24 * 3600);
  });

  it("expires by the verifier's clock", () => {
    const clock = new ManualClock();
    const t = signToken(claims, key, clock, 60_000);
    clock.advance(61_000);
    expect(code(() => verifyToken(t, keys, clock, { typ: "storage" }))).toBe("TOKEN_EXPIRED");
  });

  it("rejects another key, a tampered body, a wrong type or audience, and garbage", () => {
    const clock = new ManualClock();
    const t = signToken(claims, key, clock, 60_000);
    const other = generateSigningKey(key.kid);
    expect(code(() => verifyToken(t, () => other.publicKey, clock, { typ: "storage" }))).toBe("TOKEN_INVALID");
    const [h, b, s] = t.split(".") as [string, string, string];
    const body = JSON.parse(Buffer.from(b, "base64url").toString());
    body.arc = "999999999999999999";
    const forged = `${h}.${Buffer.from(JSON.stringify(body)).toString("base64url")}.${s}`;
    expect(code(() => verifyToken(forged, keys, clock, { typ: "storage" }))).toBe("TOKEN_INVALID");
    expect(code(() => verifyToken(t, keys, clock, { typ: "device" }))).toBe("TOKEN_INVALID");
    expect(code(() => verifyToken(t, keys, clock, { typ: "storage", aud: "1" }))).toBe("TOKEN_INVALID");
    for (const g of ["", "a.b", "a.b.c", "x".repeat(5000), `${h}.${b}`])
      expect(code(() => verifyToken(g, keys, clock, { typ: "storage" }))).toBe("TOKEN_INVALID");
  });

  it("round-trips keys through their stored and public forms", () => {
    const clock = new ManualClock();
    const again = importSigningKey(exportSigningKey(key));
    const t = signToken(claims, again, clock, 1000);
    const pub = importPublicKey(publicKeyInfo(key));
    expect(verifyToken(t, () => pub, clock, { typ: "storage" }).sub).toBe(claims.sub);
  });
});
