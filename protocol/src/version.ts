/**
 * Protocol versions and their negotiation. Each channel speaks the WebSocket subprotocol
 * `cairn.v<N>`; the client offers every version it supports, the server picks the highest one it
 * also supports, and refuses with PROTOCOL_VERSION_UNSUPPORTED naming both lists otherwise.
 */
import { CairnError } from "./errors.js";

/** Versions this build speaks, newest last. */
export const PROTOCOL_VERSIONS: readonly number[] = [1];
/** The current protocol version. */
export const PROTOCOL_VERSION = 1;
/** Format version of sealed blocks and metadata objects (docs/design.md). */
export const FORMAT_VERSION = 1;

/** `cairn.v1` for version 1. */
export function subprotocolName(version: number): string {
  return `cairn.v${version}`;
}

/** Parses `cairn.vN`; null for anything else. */
export function parseSubprotocol(name: string): number | null {
  const m = /^cairn\.v([1-9][0-9]{0,3})$/.exec(name.trim());
  return m ? Number(m[1]) : null;
}

/** Highest version both sides support, or null. */
export function negotiateVersion(offered: readonly number[], supported: readonly number[] = PROTOCOL_VERSIONS): number | null {
  let best: number | null = null;
  for (const v of offered) if (supported.includes(v) && (best === null || v > best)) best = v;
  return best;
}

/** Negotiates or throws PROTOCOL_VERSION_UNSUPPORTED with a message naming both sides' versions. */
export function requireVersion(offered: readonly number[], supported: readonly number[] = PROTOCOL_VERSIONS): number {
  const v = negotiateVersion(offered, supported);
  if (v === null) {
    throw new CairnError(
      "PROTOCOL_VERSION_UNSUPPORTED",
      `protocol version mismatch: peer offers [${offered.join(", ")}], this side supports [${supported.join(", ")}]`,
      { details: { offered: [...offered], supported: [...supported] } },
    );
  }
  return v;
}
