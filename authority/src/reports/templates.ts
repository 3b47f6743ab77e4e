/**
 * Email templates are files an operator may replace (DECISIONS.md "Reporting"): the shipped
 * defaults live in `authority/templates/`, and a configured folder overrides any of them by
 * name. Files are read at each send, so a replaced template applies without a restart.
 *
 * Format: the first line is `Subject: …`, then a blank line, then the body. Placeholders are
 * `{{name}}` (HTML-escaped in `.html` templates), `{{#list}}…{{/list}}` repeats for each item of
 * a list (or once for a truthy value), `{{^list}}…{{/list}}` renders when the list is empty.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CairnError } from "@cairn/protocol";

/** The templates Cairn sends. */
export const TEMPLATE_NAMES = [
  "backup-report.txt",
  "backup-report.html",
  "alert-warning.txt",
  "alert-critical.txt",
  "backup-status.txt",
  "backup-status.html",
] as const;
/** One template's name. */
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** `authority/templates/` (from `src/reports/` and `dist/reports/` alike). */
export const SHIPPED_TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "templates");

/** Values a template sees. */
export type TemplateData = { [key: string]: string | number | boolean | null | undefined | TemplateData[] };

/** A rendered message. */
export interface RenderedMessage {
  subject: string;
  body: string;
}

const HTML: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML[c] as string);

function lookup(scopes: readonly TemplateData[], key: string): TemplateData[string] {
  for (let i = scopes.length - 1; i >= 0; i--) {
    const s = scopes[i] as TemplateData;
    if (Object.hasOwn(s, key)) return s[key];
  }
  return undefined;
}

const TAG = /\{\{([#^/]?)\s*([A-Za-z0-9_]+)\s*\}\}/g;

function renderPart(tpl: string, scopes: readonly TemplateData[], html: boolean): string {
  let out = "";
  let at = 0;
  const tag = new RegExp(TAG.source, "g");
  for (let m = tag.exec(tpl); m !== null; m = tag.exec(tpl)) {
    const [whole, kind, key] = m as unknown as [string, string, string];
    out += tpl.slice(at, m.index);
    at = m.index + whole.length;
    if (kind === "") {
      const v = lookup(scopes, key);
      const s = v === undefined || v === null || Array.isArray(v) ? "" : String(v);
      out += html ? escapeHtml(s) : s;
      continue;
    }
    if (kind === "/") throw new CairnError("CONFIG_INVALID", `template has {{/${key}}} without its opening tag`);
    const close = `{{/${key}}}`;
    const end = tpl.indexOf(close, at);
    if (end < 0) throw new CairnError("CONFIG_INVALID", `template section {{${kind}${key}}} is not closed`);
    // a section's own line breaks belong to the tags, not to the output
    const inner = tpl.slice(at, end).replace(/^\r?\n/, "");
    const v = lookup(scopes, key);
    const empty = v === undefined || v === null || v === false || v === "" || v === 0 || (Array.isArray(v) && v.length === 0);
    if (kind === "#" && !empty) {
      const items = Array.isArray(v) ? v : [{}];
      for (const item of items) out += renderPart(inner, [...scopes, item], html);
    } else if (kind === "^" && empty) out += renderPart(inner, scopes, html);
    at = end + close.length;
    if (tpl[at] === "\n") at++;
    else if (tpl.startsWith("\r\n", at)) at += 2;
    tag.lastIndex = at;
  }
  return out + tpl.slice(at);
}

/**
 * Renders a template text (no file access; `html` escapes the values). Text templates start
 * with their subject line; an HTML template (the alternative body of a message) may leave it out.
 */
export function renderTemplate(text: string, data: TemplateData, html = false): RenderedMessage {
  const m = /^Subject:[ \t]*(.*)\r?\n(?:\r?\n)?/.exec(text);
  if (!m && html) return { subject: "", body: renderPart(text, [data], true) };
  if (!m) throw new CairnError("CONFIG_INVALID", "a template starts with a 'Subject: …' line");
  const subject = renderPart(m[1] as string, [data], false)
    .replace(/[\r\n]+/g, " ")
    .trim();
  return { subject, body: renderPart(text.slice(m[0].length), [data], html) };
}

/** Template files: the operator's folder first, then the shipped defaults. */
export class Templates {
  constructor(
    private readonly overrideDir: string | null = null,
    private readonly shippedDir: string = SHIPPED_TEMPLATES_DIR,
  ) {}

  /** The file a template is read from now. */
  pathOf(name: TemplateName): string {
    if (this.overrideDir !== null) {
      const own = join(this.overrideDir, name);
      if (existsSync(own)) return own;
    }
    return join(this.shippedDir, name);
  }

  /** Reads and renders one template. */
  render(name: TemplateName, data: TemplateData): RenderedMessage {
    return renderTemplate(readFileSync(this.pathOf(name), "utf8"), data, name.endsWith(".html"));
  }
}
