import { describe, expect, it } from "vitest";
import { exclusionsOf } from "../src/agent-api.js";
import {
  interfaceOf,
  NETWORK_PENDING,
  type NetworkProbe,
  NetworkPolicy,
  networkBlock,
  SSID_TTL_MS,
  systemProbe,
  systemSsid,
} from "../src/net/network-policy.js";

/** A machine with a cable, a Wi-Fi card joined to "Airport Wi-Fi" and loopback (the outside world, faked). */
function machine(ssid: string | null = "Airport Wi-Fi"): NetworkProbe & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    interfaces: () => ({
      lo: [{ address: "127.0.0.1" }, { address: "::1" }],
      eth0: [{ address: "10.0.0.5" }, { address: "fe80::1" }],
      wlan0: [{ address: "192.168.43.20" }],
    }),
    ssid(iface) {
      asked.push(iface);
      return iface === "wlan0" ? ssid : null;
    },
  };
}

describe("the Network tab's exclusions", () => {
  it("finds the interface that holds a socket's local address, IPv4-mapped and scoped IPv6 forms included", () => {
    const ifaces = machine().interfaces();
    expect(interfaceOf("10.0.0.5", ifaces)).toBe("eth0");
    expect(interfaceOf("::ffff:192.168.43.20", ifaces)).toBe("wlan0");
    expect(interfaceOf("fe80::1%eth0", ifaces)).toBe("eth0");
    expect(interfaceOf("203.0.113.9", ifaces)).toBeNull();
    expect(interfaceOf(undefined, ifaces)).toBeNull();
  });

  it("blocks a connection over an excluded interface, whatever the case of its name, and no other", () => {
    const m = machine();
    const ex = { excludedInterfaces: ["WLAN0"], excludedWifi: [] };
    expect(networkBlock(ex, "192.168.43.20", m)).toBe("network interface wlan0 is excluded");
    expect(networkBlock(ex, "10.0.0.5", m)).toBeNull();
    // no SSID is asked for when no wireless network is excluded
    expect(m.asked).toEqual([]);
  });

  it("blocks a connection over a Wi-Fi interface joined to an excluded network, not one over the cable", () => {
    const m = machine();
    const ex = { excludedInterfaces: [], excludedWifi: ["airport wi-fi"] };
    expect(networkBlock(ex, "192.168.43.20", m)).toBe("wireless network Airport Wi-Fi is excluded");
    expect(networkBlock(ex, "10.0.0.5", m)).toBeNull();
    expect(networkBlock(ex, "192.168.43.20", machine("Office"))).toBeNull();
    // an interface whose SSID cannot be read is not a Wi-Fi network for this rule
    expect(networkBlock(ex, "192.168.43.20", machine(null))).toBeNull();
  });

  it("follows settings changed at run time, and reads missing lists as none", () => {
    const p = new NetworkPolicy(exclusionsOf({}), machine());
    expect(p.blocked("127.0.0.1")).toBeNull();
    p.set({ excludedInterfaces: ["lo"], excludedWifi: [] });
    expect(p.blocked("127.0.0.1")).toBe("network interface lo is excluded");
    p.set(exclusionsOf({ excludedInterfaces: [], excludedWifi: [] }));
    expect(p.blocked("127.0.0.1")).toBeNull();
  });

  it("asks for an SSID in the background: the connection waits until the first answer, then the answer is reused", async () => {
    let t = 0;
    const asked: string[] = [];
    const probe = systemProbe(
      () => t,
      async (iface) => {
        asked.push(iface);
        return "Airport Wi-Fi";
      },
    );
    const ex = { excludedInterfaces: [], excludedWifi: ["Airport Wi-Fi"] };
    const lo = interfaceOf("127.0.0.1", probe.interfaces()) as string;
    expect(lo).not.toBeNull();
    expect(networkBlock(ex, "127.0.0.1", probe)).toBe(NETWORK_PENDING);
    await new Promise((r) => setImmediate(r));
    expect(networkBlock(ex, "127.0.0.1", probe)).toBe("wireless network Airport Wi-Fi is excluded");
    t += SSID_TTL_MS - 1;
    networkBlock(ex, "127.0.0.1", probe);
    expect(asked).toEqual([lo]);
    // past the cache time the last answer stands while the next is asked for
    t += 2;
    expect(networkBlock(ex, "127.0.0.1", probe)).toBe("wireless network Airport Wi-Fi is excluded");
    expect(asked).toEqual([lo, lo]);
  });

  it("reads no SSID for this machine's loopback interface from the operating system", async () => {
    const lo = interfaceOf("127.0.0.1", systemProbe().interfaces());
    expect(lo).not.toBeNull();
    expect(await systemSsid(lo as string)).toBeNull();
  });
});
