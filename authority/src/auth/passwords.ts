/**
 * Local passwords: argon2id (memory-hard) via @node-rs/argon2, PHC strings in the database.
 * Unknown users and users without a password are checked against a dummy hash made with the same
 * parameters, so a wrong username costs as long as a wrong password (T29, kopia's dummy hash).
 */
import { hash, verify } from "@node-rs/argon2";

/** argon2id cost parameters. */
export interface Argon2Params {
  /** KiB of memory. */
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's minimum for argon2id (19 MiB, 2 passes): about 27 ms here (ECOSYSTEM.md). */
export const DEFAULT_ARGON2: Argon2Params = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };
/** Cheap parameters for tests only (restic's TestUseLowSecurityKDFParameters). */
export const TEST_ARGON2: Argon2Params = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

/** Longest password accepted (hashing cost must stay bounded). */
export const MAX_PASSWORD_CHARS = 1024;
/** Shortest password accepted (API.md §3: under 8 characters is NEW_PASSWORD_INVALID). */
export const MIN_PASSWORD_CHARS = 8;

const ARGON2ID = 2;

/** Hashes and checks passwords with one set of parameters. */
export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(private readonly params: Argon2Params = DEFAULT_ARGON2) {}

  /** A PHC string for `password`. */
  hash(password: string): Promise<string> {
    return hash(password.normalize("NFC"), { ...this.params, algorithm: ARGON2ID });
  }

  /**
   * Whether `password` matches `stored`; a null `stored` (no such user, or no password yet)
   * still spends one verification on the dummy hash and answers false.
   */
  async verify(stored: string | null, password: string): Promise<boolean> {
    const candidate = typeof password === "string" && password.length <= MAX_PASSWORD_CHARS ? password.normalize("NFC") : "";
    if (stored === null) {
      this.dummy ??= this.hash("cairn dummy password for unknown users");
      await verify(await this.dummy, candidate).catch(() => false);
      return false;
    }
    try {
      return await verify(stored, candidate);
    } catch {
      return false;
    }
  }
}
