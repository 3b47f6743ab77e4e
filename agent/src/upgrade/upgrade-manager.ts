/**
 * What the daemon does with `upgrade-available {version, url, sha256, signature}`:
 *
 * 1. ignore a version that is not newer than the running one (or when `upgrade.enabled` is off);
 * 2. verify the signature of (version, sha256) with the trusted package key (agent.toml's, else
 *    the one pinned on first use) before downloading anything: unsigned → refused;
 * 3. download from the registered authority (pinned TLS, device token) and refuse a file whose
 *    SHA-256 is not the signed one (altered in storage or on the way);
 * 4. unpack into `<upgrade.dir>/versions/<version>` and check its manifest names that version;
 * 5. wait for a safe point: no backup and no restore running; from then on no new one starts;
 * 6. point `<upgrade.dir>/current` at the new version and ask the daemon to restart (the command
 *    line exits 75; systemd's `RestartForceExitStatus=75` starts `current` again).
 *
 * Offers are handled one at a time; a failed or refused offer leaves the running version as it
 * was (and is counted in `agent_upgrades_total`).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CairnError, type Clock, compareVersions, isCairnError, packageVersionOf, verifyAgentPackage } from "@cairn/protocol";
import type { Logger } from "pino";
import type { AgentMetrics } from "../daemon/metrics.js";
import { readCredentials } from "../state/credentials.js";
import { type AuthorityTarget, downloadPackage, fetchPackageKey } from "./download.js";
import { switchCurrent, unpackPackage } from "./install.js";
import { pinKey, readPinnedKey, trustedPackageKey } from "./package-key.js";

/** An offer as the authority sends it. */
export interface UpgradeOfferEvent {
  version: string;
  url: string;
  sha256: string;
  signature: string;
}

/** Options of {@link UpgradeManager}. */
export interface UpgradeManagerOptions {
  dataDir: string;
  /** Installation folder (`upgrade.dir`). */
  dir: string;
  enabled: boolean;
  /** Whether the process runs from `<dir>/current` (else an offer is verified but not installed). */
  managed: boolean;
  /** `upgrade.package_key` from agent.toml, or null. */
  configuredKey: string | null;
  /** The running agent's version string (`cairn-agent/1.2.3`). */
  runningVersion: string;
  clock: Clock;
  logger: Logger;
  proxy: string | null;
  metrics?: AgentMetrics;
  /** Whether a backup or restore is running now. */
  isBusy(): boolean;
  /** The new version is current: stop and let the service manager start it. */
  onReady(version: string): void;
  /** How often the safe point is looked for (default 1000 ms). */
  pollMs?: number;
}

/** Handles upgrade offers for one daemon. */
export class UpgradeManager {
  private busy: Promise<void> = Promise.resolve();
  private inFlight: string | null = null;
  private hold = false;
  private closed = false;

  constructor(private readonly o: UpgradeManagerOptions) {}

  /** True once an upgrade is switching in: the daemon starts no new backup or restore. */
  get holding(): boolean {
    return this.hold;
  }

  private target(): AuthorityTarget {
    const c = readCredentials(this.o.dataDir);
    if (!c) throw new CairnError("NOT_REGISTERED", "this agent is not registered");
    return { url: c.authorityUrl, fingerprint: c.authorityFingerprint, token: c.deviceToken, proxy: this.o.proxy };
  }

  /** Pins the authority's package-signing key when none is configured or pinned (first use). */
  async pinFromAuthority(): Promise<void> {
    if (this.o.configuredKey !== null) return;
    const key = await fetchPackageKey(this.target());
    const r = pinKey(this.o.dataDir, key, this.o.clock.now());
    if (r === "pinned") this.o.logger.info({ keyId: key.keyId }, "package-signing key pinned");
    if (r === "different")
      this.o.logger.error(
        { servedKeyId: key.keyId, pinnedKeyId: readPinnedKey(this.o.dataDir)?.keyId },
        "the authority serves a package-signing key other than the pinned one; upgrades stay refused until upgrade.package_key is set",
      );
  }

  /** Takes an offer (handled after any earlier one). */
  offer(e: UpgradeOfferEvent): void {
    if (this.inFlight === e.version) return;
    this.busy = this.busy.then(() => this.handle(e)).catch(() => undefined);
  }

  /** Resolves when the offers taken so far are handled (tests). */
  settled(): Promise<void> {
    return this.busy;
  }

  /** Stops waiting for a safe point. */
  close(): void {
    this.closed = true;
  }

  private outcome(outcome: "installed" | "refused" | "failed" | "ignored"): void {
    this.o.metrics?.upgrades.inc({ outcome });
  }

  private async handle(e: UpgradeOfferEvent): Promise<void> {
    const log = this.o.logger.child({ upgradeVersion: e.version.slice(0, 64) });
    const running = packageVersionOf(this.o.runningVersion);
    if (compareVersions(e.version, running) <= 0) {
      log.info({ running }, "upgrade offer ignored: not newer than the running version");
      return this.outcome("ignored");
    }
    if (!this.o.enabled) {
      log.warn("upgrade offered; not installed (upgrade.enabled = false)");
      return this.outcome("ignored");
    }
    if (!this.o.managed) {
      log.warn({ dir: this.o.dir }, "upgrade offered; not installed: this agent does not run from <upgrade.dir>/current");
      return this.outcome("ignored");
    }
    this.inFlight = e.version;
    const download = join(this.o.dir, "downloads", `cairn-agent-${e.version}.tar.gz`);
    try {
      let key = trustedPackageKey(this.o.dataDir, this.o.configuredKey);
      if (key === null) {
        await this.pinFromAuthority();
        key = trustedPackageKey(this.o.dataDir, this.o.configuredKey);
      }
      if (key === null) throw new CairnError("PACKAGE_SIGNATURE_INVALID", "no package-signing key is trusted yet");
      verifyAgentPackage(key, e.version, e.sha256, e.signature);
      try {
        mkdirSync(join(this.o.dir, "downloads"), { recursive: true, mode: 0o700 });
      } catch (cause) {
        throw new CairnError("CONFIG_INVALID", `cannot write into upgrade.dir ${this.o.dir}: ${(cause as Error).message}`, { cause });
      }
      const bytes = await downloadPackage(this.target(), e.url, download, e.sha256);
      await unpackPackage(this.o.dir, download, e.version);
      rmSync(download, { force: true });
      log.info({ bytes }, "upgrade verified and unpacked; waiting for a safe point");
      await this.safePoint();
      switchCurrent(this.o.dir, e.version);
      this.outcome("installed");
      log.info({ from: running }, "upgrade installed; restarting on the new version");
      this.o.onReady(e.version);
    } catch (err) {
      rmSync(download, { force: true });
      this.hold = false;
      if (isCairnError(err, "PACKAGE_SIGNATURE_INVALID")) {
        this.outcome("refused");
        log.error({ err: err.message }, "upgrade refused");
      } else {
        this.outcome("failed");
        log.error({ err: (err as Error).message }, "upgrade failed; keeping the running version");
      }
      throw err;
    } finally {
      this.inFlight = null;
    }
  }

  /** Waits until nothing runs, then holds (the check and the hold happen in one turn). */
  private async safePoint(): Promise<void> {
    for (;;) {
      if (this.closed) throw new CairnError("CANCELLED", "the daemon is stopping");
      if (!this.o.isBusy()) {
        this.hold = true;
        return;
      }
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 1000));
    }
  }
}
