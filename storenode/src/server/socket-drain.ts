/**
 * Backpressure for WebSocket writers: wait until the socket's buffered bytes fall below a mark
 * before sending more (restore streaming), so memory stays bounded however large the archive.
 */
import type { Duplex } from "node:stream";
import WebSocket from "ws";

/** Buffered bytes above which senders wait. */
export const SEND_HIGH_WATER_BYTES = 8 * 1024 * 1024;

/** Resolves when `ws` has room (or is closed). */
export async function socketDrain(ws: WebSocket, highWater = SEND_HIGH_WATER_BYTES): Promise<void> {
  while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > highWater) {
    const sock = (ws as unknown as { _socket?: Duplex })._socket;
    if (!sock) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        sock.off("drain", done);
        ws.off("close", done);
        resolve();
      };
      sock.once("drain", done);
      ws.once("close", done);
    });
  }
}
