import { describe, expect, it } from "vitest";
import { AWAY_AFTER_MS, cpuShareFor, parseLogindSessions, presenceOfIoreg, presenceOfSessions, presenceProbe } from "../src/daemon/presence.js";

describe("whether the user is at the computer (the General tab's two CPU shares)", () => {
  it("reads logind's sessions: present while an active seat or terminal session is not idle", () => {
    const out = "Active=yes\nIdleHint=no\nSeat=seat0\nTTY=tty2\nClass=user\n\nActive=no\nIdleHint=yes\nSeat=\nTTY=pts/1\nClass=user\n";
    const sessions = parseLogindSessions(out);
    expect(sessions).toHaveLength(2);
    expect(presenceOfSessions(sessions)).toBe("present");
    // the desktop marked its session idle: away
    expect(presenceOfSessions(parseLogindSessions("Active=yes\nIdleHint=yes\nSeat=seat0\nTTY=\nClass=user\n"))).toBe("away");
    // nobody logged in (a server), or only a greeter and a background session: away
    expect(presenceOfSessions([])).toBe("away");
    expect(
      presenceOfSessions(parseLogindSessions("Active=yes\nIdleHint=no\nSeat=seat0\nTTY=\nClass=greeter\n\nActive=yes\nIdleHint=no\nSeat=\nTTY=\nClass=user\n")),
    ).toBe("away");
  });

  it("reads macOS's HID idle time: away after 15 minutes without input", () => {
    const ns = (ms: number) => `    | |   "HIDIdleTime" = ${ms * 1e6}\n`;
    expect(presenceOfIoreg(ns(60_000))).toBe("present");
    expect(presenceOfIoreg(ns(AWAY_AFTER_MS + 1000))).toBe("away");
    expect(presenceOfIoreg("no such key")).toBe("unknown");
  });

  it("uses the away share only when the user is known to be away", () => {
    const shares = { presentPercent: 20, awayPercent: 80 };
    expect(cpuShareFor("away", shares)).toBe(80);
    expect(cpuShareFor("present", shares)).toBe(20);
    expect(cpuShareFor("unknown", shares)).toBe(20);
  });

  it("asks the system in the background at most once a minute, unknown before the first answer", async () => {
    let t = 0;
    let asked = 0;
    const probe = presenceProbe(
      async () => {
        asked++;
        return asked === 1 ? "present" : "away";
      },
      () => t,
    );
    expect(probe()).toBe("unknown");
    await new Promise((r) => setImmediate(r));
    expect(probe()).toBe("present");
    t += 30_000;
    expect(probe()).toBe("present");
    t += 31_000;
    // the last answer stands while the next one is asked for
    expect(probe()).toBe("present");
    await new Promise((r) => setImmediate(r));
    expect(probe()).toBe("away");
    expect(asked).toBe(2);
  });
});
