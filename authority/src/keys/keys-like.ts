/**
 * The part of the key material the services use (see `authority-keys.ts`).
 */
import type { KeyObject } from "node:crypto";
import type { SigningKey } from "@cairn/protocol";

/** Signing and verification keys and the escrow KEK. */
export interface KeysLike {
  signing: SigningKey;
  verifying: ReadonlyMap<string, KeyObject>;
  escrowKek: Buffer;
}
