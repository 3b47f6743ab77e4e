/**
 * A real SMTP server on 127.0.0.1 (the smtp-server package) that keeps every message it
 * receives, for the report and alert tests. A message is stored before the server answers the
 * DATA command, so it is there as soon as the sender's `sendMail` resolves.
 */
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

/** One received message. */
export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  raw: string;
}

/** A running test SMTP server. */
export interface TestSmtp {
  port: number;
  /** nodemailer options that reach it. */
  smtp: { host: string; port: number; secure: false; ignoreTLS: true };
  messages: ReceivedMail[];
  close(): Promise<void>;
}

/** Starts the server on a free port. */
export async function startSmtp(): Promise<TestSmtp> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const subject = /^Subject: (.*(?:\r\n[ \t].*)*)/im.exec(raw)?.[1]?.replace(/\r\n[ \t]/g, " ") ?? "";
        const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
        messages.push({ from, to: session.envelope.rcptTo.map((r) => r.address), subject, raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    smtp: { host: "127.0.0.1", port, secure: false, ignoreTLS: true },
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
