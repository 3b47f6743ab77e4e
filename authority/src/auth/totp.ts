/**
 * TOTP (RFC 6238, 30-second steps, 6 digits, SHA-1: what authenticator apps expect) via otpauth.
 * A code is accepted in its own step and one step either side for clock drift; which step it
 * matched is returned so the caller can enforce single use (DECISIONS.md "TOTP reuse").
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "@cairn/protocol";
import { Secret, TOTP } from "otpauth";
import { toDataURL } from "qrcode";

const PERIOD_S = 30;
const DIGITS = 6;

/** A new 160-bit TOTP secret. */
export function newTotpSecret(): Buffer {
  return randomBytes(20);
}

function totpFor(secret: Buffer, label = "", issuer = "Cairn"): TOTP {
  return new TOTP({ issuer, label, algorithm: "SHA1", digits: DIGITS, period: PERIOD_S, secret: new Secret({ buffer: new Uint8Array(secret).buffer }) });
}

/** The time step of `ms`. */
export function timeStep(ms: number): number {
  return Math.floor(ms / 1000 / PERIOD_S);
}

/**
 * The time step `code` belongs to (within ±1 step of now), or null when it is wrong, expired
 * or malformed.
 */
export function matchTotp(secret: Buffer, code: unknown, clock: Clock): number | null {
  if (typeof code !== "string" && typeof code !== "number") return null;
  // a code that starts with 0, sent as a number (py42 passes `totp` through str(); JSON numbers),
  // arrives without its leading zeros
  const raw = String(code).trim();
  if (!/^\d{1,6}$/.test(raw)) return null;
  const c = raw.padStart(6, "0");
  const now = clock.now();
  const delta = totpFor(secret).validate({ token: c, timestamp: now, window: 1 });
  return delta === null ? null : timeStep(now) + delta;
}

/** The code for `ms` (tests, and the enrollment check). */
export function totpCode(secret: Buffer, ms: number): string {
  return totpFor(secret).generate({ timestamp: ms });
}

/** What an enrolling user scans. */
export interface TotpEnrollment {
  /** Base32 secret, for manual entry. */
  secret: string;
  otpauthUri: string;
  /** The URI as a PNG QR code data URL. */
  qrCodeDataUrl: string;
}

/** Builds the enrollment material for `secret`. */
export async function enrollmentFor(secret: Buffer, username: string, issuer: string): Promise<TotpEnrollment> {
  const t = totpFor(secret, username, issuer);
  const uri = t.toString();
  return { secret: t.secret.base32, otpauthUri: uri, qrCodeDataUrl: await toDataURL(uri) };
}
