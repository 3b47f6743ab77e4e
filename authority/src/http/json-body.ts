/**
 * Request bodies: JSON only, at most `bodyLimit` bytes (413 beyond) and `maxDepth` levels of
 * nesting (400 beyond, T40), prototype-poisoning keys refused; an empty body is no body at all
 * (py42 sends block/deactivate without one, API.md §1.2).
 */
import { CairnError } from "@cairn/protocol";
import type { FastifyInstance } from "fastify";

/** Deepest JSON nesting accepted in a request body. */
export const MAX_JSON_DEPTH = 64;

/** The nesting depth of JSON text (brackets outside strings), stopping early past `limit`. */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Installs the body parsers on `app`. */
export function installJsonBodies(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(["application/json", "application/*+json"], { parseAs: "string" }, (req, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") {
      done(null, undefined);
      return;
    }
    if (jsonDepth(text, maxDepth) > maxDepth) {
      done(new CairnError("BAD_REQUEST", `JSON nested deeper than ${maxDepth} levels`), undefined);
      return;
    }
    void parse(req, text, done);
  });
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text === "") done(null, undefined);
    else done(new CairnError("BAD_REQUEST", "Send request bodies as application/json"), undefined);
  });
}
