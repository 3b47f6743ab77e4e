#!/usr/bin/env node
// Regenerates docs/errors.md from the registry in protocol/src/errors.ts:
//   npx tsc -b && node protocol/scripts/make-errors-doc.mjs
import { writeFileSync } from "node:fs";
import { ERROR_CODES } from "../dist/index.js";

const rows = Object.entries(ERROR_CODES).map(([code, s]) => `| \`${code}\` | ${s.http} | ${s.close} | ${s.exit} | ${s.retryable ? "yes" : "no"} | ${s.doc} |`);
const doc = `# Error codes

Every error Cairn reports carries one of these stable codes (\`protocol/src/errors.ts\` is the
registry; a test keeps this page and the registry in step). REST responses use the platform shape
\`[{"name": CODE, "description": …, "objects": []}]\` with the HTTP status below; WebSocket
channels send the code in an \`err\`/\`nack\` message and close with the close code when the error
ends the connection; the \`cairn\` command exits with the exit code (\`--json\` prints
\`{"message_type":"exit_error","code":N,"error":CODE,"message":…}\` on stderr).

Names that the platform API defines (\`USER_DUPLICATE\`, \`WEB_RESTORE_LIMIT_EXCEEDED\`, …) keep
the platform's statuses, because existing scripts and py42 match them (API.md §1.6).

| code | HTTP | close | exit | retry | meaning |
| --- | --- | --- | --- | --- | --- |
${rows.join("\n")}
`;
writeFileSync(new URL("../../docs/errors.md", import.meta.url), doc);
console.log(`docs/errors.md: ${rows.length} codes`);
