/** Deauthorize on the device: the credential and every key are wiped; the cache is kept (harmless without keys). */
import { openAgentDb } from "../state/agent-db.js";
import { wipeCredentials } from "../state/credentials.js";

/** Wipes the device credential, keys and storage tokens of a data directory. */
export function deauthorizeLocal(dataDir: string): void {
  wipeCredentials(dataDir);
  const db = openAgentDb(dataDir);
  try {
    db.prepare("UPDATE archives SET token = '', token_expires_at = 0, session_id = NULL").run();
  } finally {
    db.close();
  }
}
