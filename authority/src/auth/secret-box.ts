/**
 * Small secrets the authority must read back (TOTP seeds, provider tenant secrets) are sealed at
 * rest with AES-256-GCM under keys derived from the escrow KEK (`keys/escrow.key`, never in
 * SQLite). The purpose is bound as AAD, so a sealed value moved to another column fails to open.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { CairnError } from "@cairn/protocol";

/** Derives a 32-byte purpose key from the KEK. */
export function deriveKey(kek: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", kek, Buffer.from("cairn/authority", "utf8"), Buffer.from(purpose, "utf8"), 32));
}

/** Seals and opens secrets for one purpose. */
export class SecretBox {
  private readonly key: Buffer;

  constructor(
    kek: Buffer,
    private readonly purpose: string,
  ) {
    this.key = deriveKey(kek, `secret-box/${purpose}`);
  }

  /** version(1)=1 ‖ nonce(12) ‖ ciphertext ‖ tag(16). */
  seal(plain: Buffer, context: string): Buffer {
    const nonce = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.key, nonce);
    c.setAAD(Buffer.from(`${this.purpose}\0${context}`, "utf8"));
    return Buffer.concat([Buffer.from([1]), nonce, c.update(plain), c.final(), c.getAuthTag()]);
  }

  /** Opens a sealed secret; throws DECRYPT_FAILED. */
  open(sealed: Buffer, context: string): Buffer {
    if (sealed.length < 29 || sealed[0] !== 1) throw new CairnError("DECRYPT_FAILED", "malformed sealed secret");
    const d = createDecipheriv("aes-256-gcm", this.key, sealed.subarray(1, 13));
    d.setAAD(Buffer.from(`${this.purpose}\0${context}`, "utf8"));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    try {
      return Buffer.concat([d.update(sealed.subarray(13, sealed.length - 16)), d.final()]);
    } catch (cause) {
      throw new CairnError("DECRYPT_FAILED", "sealed secret does not open", { cause });
    }
  }
}

/** HMAC-SHA-256 of `data` under a purpose key, base64url (CSRF tokens). */
export function macBase64url(key: Buffer, data: string): string {
  return createHmac("sha256", key).update(data, "utf8").digest("base64url");
}

/** The text form of a sealed string column: `sealed1:` and the sealed bytes in base64url. */
const SEALED_PREFIX = "sealed1:";

/**
 * A codec for a text column that must be read back but not kept in the clear (the orgs'
 * registration keys): values are sealed for `purpose`; a value written before sealing (no
 * prefix) still reads as it is, and {@link sealedStringCodec}'s `isSealed` lets the store seal it.
 */
export function sealedStringCodec(
  kek: Buffer,
  purpose: string,
): { seal(plain: string): string; open(stored: string): string; isSealed(stored: string): boolean } {
  const box = new SecretBox(kek, purpose);
  return {
    seal: (plain) => `${SEALED_PREFIX}${box.seal(Buffer.from(plain, "utf8"), purpose).toString("base64url")}`,
    open: (stored) =>
      stored.startsWith(SEALED_PREFIX) ? box.open(Buffer.from(stored.slice(SEALED_PREFIX.length), "base64url"), purpose).toString("utf8") : stored,
    isSealed: (stored) => stored.startsWith(SEALED_PREFIX),
  };
}
