import { request } from "node:https";

/** GET over https (self-signed) → status and body. */
export function httpsGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url.replace(/^wss:/, "https:"), { rejectUnauthorized: false }, (res) => {
      let b = "";
      res.on("data", (c: Buffer) => {
        b += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b }));
    })
      .on("error", reject)
      .end();
  });
}

/** One sample of a Prometheus metric (first line that matches name and optional label text). */
export async function metric(nodeUrl: string, name: string, label = ""): Promise<number> {
  const { body } = await httpsGet(`${nodeUrl}/metrics`);
  const line = body.split("\n").find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(label));
  return Number(line?.split(" ").pop() ?? Number.NaN);
}
