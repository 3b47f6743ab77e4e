/**
 * The Network tab's exclusions: no block is sent over an excluded network interface, or over a
 * Wi-Fi interface joined to an excluded wireless network (SSID).
 *
 * What counts is the interface that carries the connection to the storage node (or to the
 * proxy): the one holding the socket's local address. A laptop on an excluded hotspot with a
 * cable plugged in is excluded only while the connection runs over the hotspot. Names compare
 * without regard to case ("Wi-Fi" and "wi-fi" are the same interface on Windows; SSIDs that
 * differ only in case are not worth telling apart here).
 *
 * The SSID is asked of the operating system (`iw`/`iwgetid`/`nmcli` on Linux, `networksetup`
 * on macOS, `netsh` on Windows) only when some SSID is excluded, at most every
 * {@link SSID_TTL_MS} per interface, in the background (child processes, never blocking the
 * daemon's event loop): until the first answer the connection waits ({@link NETWORK_PENDING}).
 * An interface whose SSID cannot be read is not a Wi-Fi network for this rule. The probe is a
 * seam: tests give their own.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";

/** What the agent asks the machine about its networks. */
export interface NetworkProbe {
  /** Interface name → its addresses (as `os.networkInterfaces()`). */
  interfaces(): Record<string, ReadonlyArray<{ address: string }> | undefined>;
  /** The SSID the interface is joined to, null (not wireless, or not readable), or undefined while not known yet. */
  ssid(iface: string): string | null | undefined;
}

/** The exclusion lists of the device settings. */
export interface NetworkExclusions {
  excludedInterfaces: readonly string[];
  excludedWifi: readonly string[];
}

/** How long a read SSID is trusted. */
export const SSID_TTL_MS = 30_000;
/** {@link networkBlock}'s answer while the SSID is still being asked for: wait, briefly. */
export const NETWORK_PENDING = "checking the wireless network";

/** The interface holding `localAddress` (IPv4-mapped IPv6 addresses match their IPv4 form). */
export function interfaceOf(localAddress: string | undefined, ifaces: ReturnType<NetworkProbe["interfaces"]>): string | null {
  if (!localAddress) return null;
  const want = normalizeAddress(localAddress);
  for (const [name, addrs] of Object.entries(ifaces)) {
    if (addrs?.some((a) => normalizeAddress(a.address) === want)) return name;
  }
  return null;
}

function normalizeAddress(a: string): string {
  const s = a.toLowerCase();
  const pct = s.indexOf("%");
  const bare = pct >= 0 ? s.slice(0, pct) : s;
  return bare.startsWith("::ffff:") && bare.includes(".") ? bare.slice(7) : bare;
}

const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * Why nothing may be sent over the connection whose local address is `localAddress`, or null.
 * Pure apart from the probe's answers.
 */
export function networkBlock(ex: NetworkExclusions, localAddress: string | undefined, probe: NetworkProbe): string | null {
  if (ex.excludedInterfaces.length === 0 && ex.excludedWifi.length === 0) return null;
  const iface = interfaceOf(localAddress, probe.interfaces());
  if (!iface) return null;
  if (ex.excludedInterfaces.some((x) => same(x, iface))) return `network interface ${iface} is excluded`;
  if (ex.excludedWifi.length === 0) return null;
  const ssid = probe.ssid(iface);
  if (ssid === undefined) return NETWORK_PENDING;
  if (ssid !== null && ex.excludedWifi.some((x) => same(x, ssid))) return `wireless network ${ssid} is excluded`;
  return null;
}

/** A tool's output, or null when it is missing, fails or takes more than 2 s (never throws). */
function run(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: "utf8", timeout: 2000 }, (err, stdout) => resolve(err ? null : stdout));
  });
}

/** Reads the SSID of `iface` from the operating system's tools; null when none answers. */
export async function systemSsid(iface: string): Promise<string | null> {
  if (process.platform === "darwin") {
    const out = await run("networksetup", ["-getairportnetwork", iface]);
    const m = out ? /Current Wi-Fi Network: (.+)/.exec(out) : null;
    return m?.[1]?.trim() || null;
  }
  if (process.platform === "win32") {
    const out = await run("netsh", ["wlan", "show", "interfaces"]);
    if (!out) return null;
    // blocks of "Name : <iface>" … "SSID : <ssid>"
    for (const block of out.split(/\r?\n\s*\r?\n/)) {
      const name = /^\s*Name\s*:\s*(.+)$/m.exec(block)?.[1]?.trim();
      const ssid = /^\s*SSID\s*:\s*(.+)$/m.exec(block)?.[1]?.trim();
      if (name && ssid && same(name, iface)) return ssid;
    }
    return null;
  }
  // Linux: only interfaces the kernel calls wireless
  if (!existsSync(`/sys/class/net/${iface}/wireless`) && !existsSync(`/sys/class/net/${iface}/phy80211`)) return null;
  const iw = await run("iw", ["dev", iface, "link"]);
  const m = iw ? /^\s*SSID:\s*(.+)$/m.exec(iw) : null;
  if (m?.[1]) return m[1].trim();
  const id = (await run("iwgetid", [iface, "--raw"]))?.trim();
  if (id) return id;
  // the connection's fields, not `device wifi list` (which may start a scan)
  const nm = await run("nmcli", ["-t", "-g", "GENERAL.CONNECTION,GENERAL.TYPE", "device", "show", iface]);
  const [conn, type] = nm?.trim().split("\n") ?? [];
  if (conn && type === "wifi") {
    const ssid = await run("nmcli", ["-t", "-g", "802-11-wireless.ssid", "connection", "show", conn]);
    if (ssid?.trim()) return ssid.trim();
  }
  return null;
}

/**
 * The machine's own answers: SSIDs cached for {@link SSID_TTL_MS} and asked again in the
 * background when older (the last answer stands meanwhile; undefined before the first).
 */
export function systemProbe(now: () => number = () => performance.now(), ask: (iface: string) => Promise<string | null> = systemSsid): NetworkProbe {
  const cache = new Map<string, { at: number; ssid: string | null }>();
  const asking = new Set<string>();
  return {
    interfaces: () => networkInterfaces(),
    ssid(iface) {
      const hit = cache.get(iface);
      if ((!hit || now() - hit.at >= SSID_TTL_MS) && !asking.has(iface)) {
        asking.add(iface);
        void ask(iface)
          .catch(() => null)
          .then((ssid) => {
            asking.delete(iface);
            cache.set(iface, { at: now(), ssid });
          });
      }
      return hit?.ssid;
    },
  };
}

/**
 * The exclusions in force for a run, changed at run time when settings change. A data session
 * asks {@link NetworkPolicy.blocked} with its socket's local address before sending.
 */
export class NetworkPolicy {
  constructor(
    private exclusions: NetworkExclusions = { excludedInterfaces: [], excludedWifi: [] },
    private readonly probe: NetworkProbe = systemProbe(),
  ) {}

  /** Replaces the exclusion lists. */
  set(ex: NetworkExclusions): void {
    this.exclusions = { excludedInterfaces: [...ex.excludedInterfaces], excludedWifi: [...ex.excludedWifi] };
  }

  /** Why nothing may be sent over the connection with this local address, or null. */
  blocked(localAddress: string | undefined): string | null {
    return networkBlock(this.exclusions, localAddress, this.probe);
  }
}
