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
 * {@link SSID_TTL_MS} per interface; an interface whose SSID cannot be read is not a Wi-Fi
 * network for this rule. The probe is a seam: tests give their own.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";

/** What the agent asks the machine about its networks. */
export interface NetworkProbe {
  /** Interface name → its addresses (as `os.networkInterfaces()`). */
  interfaces(): Record<string, ReadonlyArray<{ address: string }> | undefined>;
  /** The SSID the interface is joined to, or null (not wireless, or not known). */
  ssid(iface: string): string | null;
}

/** The exclusion lists of the device settings. */
export interface NetworkExclusions {
  excludedInterfaces: readonly string[];
  excludedWifi: readonly string[];
}

/** How long a read SSID is trusted. */
export const SSID_TTL_MS = 30_000;

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
  if (ssid !== null && ex.excludedWifi.some((x) => same(x, ssid))) return `wireless network ${ssid} is excluded`;
  return null;
}

function run(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", timeout: 2000, stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
}

/** Reads the SSID of `iface` from the operating system's tools; null when none answers. */
export function systemSsid(iface: string): string | null {
  if (process.platform === "darwin") {
    const out = run("networksetup", ["-getairportnetwork", iface]);
    const m = out ? /Current Wi-Fi Network: (.+)/.exec(out) : null;
    return m?.[1]?.trim() || null;
  }
  if (process.platform === "win32") {
    const out = run("netsh", ["wlan", "show", "interfaces"]);
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
  const iw = run("iw", ["dev", iface, "link"]);
  const m = iw ? /^\s*SSID:\s*(.+)$/m.exec(iw) : null;
  if (m?.[1]) return m[1].trim();
  const id = run("iwgetid", [iface, "--raw"])?.trim();
  if (id) return id;
  const nm = run("nmcli", ["-t", "-f", "DEVICE,ACTIVE,SSID", "device", "wifi", "list"]);
  for (const line of nm?.split("\n") ?? []) {
    const [dev, active, ...ssid] = line.split(":");
    if (dev === iface && active === "yes") return ssid.join(":").replace(/\\:/g, ":") || null;
  }
  return null;
}

/** The machine's own answers, SSIDs cached for {@link SSID_TTL_MS}. */
export function systemProbe(now: () => number = () => performance.now()): NetworkProbe {
  const cache = new Map<string, { at: number; ssid: string | null }>();
  return {
    interfaces: () => networkInterfaces(),
    ssid(iface) {
      const hit = cache.get(iface);
      if (hit && now() - hit.at < SSID_TTL_MS) return hit.ssid;
      const ssid = systemSsid(iface);
      cache.set(iface, { at: now(), ssid });
      return ssid;
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
