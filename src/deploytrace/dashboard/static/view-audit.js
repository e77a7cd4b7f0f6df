// The audit log: who did what, newest first, one page at a time (GET /v1/audit).

import { getJson } from "./api.js";
import {
  appendRows,
  filterForm,
  loadMore,
  loading,
  note,
  pageHeader,
  time,
} from "./components.js";
import { dash, el, link, table } from "./dom.js";
import { shortDigest } from "./format.js";
import { routes } from "./router.js";

const PAGE = 50;

const SHOWN_DETAILS = 4;
const DIGEST = /^(sha256|sha512):[0-9a-f]+$/;

function value(v) {
  if (typeof v === "string" && DIGEST.test(v)) {
    return el("span", { class: "digest", title: v }, shortDigest(v));
  }
  return el("span", { class: "break" }, typeof v === "string" ? v : JSON.stringify(v));
}

/** Details as "key: value" lines (empty ones left out); long lists fold away. */
function details(data) {
  const entries = Object.entries(data || {}).filter(([, v]) => v !== null && v !== undefined);
  if (!entries.length) {
    return dash();
  }
  const line = ([key, v]) => el("li", {}, el("span", { class: "muted" }, `${key}: `), value(v));
  const shown = el("ul", { class: "plain details" }, entries.slice(0, SHOWN_DETAILS).map(line));
  const rest = entries.slice(SHOWN_DETAILS);
  if (!rest.length) {
    return shown;
  }
  return el(
    "div",
    {},
    shown,
    el(
      "details",
      {},
      el("summary", {}, `${rest.length} more`),
      el("ul", { class: "plain details" }, rest.map(line)),
    ),
  );
}

/** "deployment/<id>" links to the record; other targets are text. */
function target(text) {
  const match = /^deployment\/([0-9a-f-]{36})$/.exec(text);
  if (match) {
    return link(routes.record(match[1]), `deployment/${match[1].slice(0, 8)}`, { title: text });
  }
  return el("span", { class: "break" }, text);
}

function entryCells(entry) {
  return [
    String(entry.position),
    time(entry.time),
    el("span", { class: "nowrap" }, entry.actor),
    el("code", {}, entry.action),
    target(entry.target),
    details(entry.details),
  ];
}

export async function renderAudit(ctx) {
  const action = (ctx.params.get("action") || "").trim();
  ctx.root.append(
    pageHeader(
      "Audit log",
      "Every change, who made it and when, newest first. Entries are hash-chained: ",
      el("code", {}, "deploytrace audit verify"),
      " checks the chain.",
    ),
    filterForm(
      "Filter the audit log",
      [{ name: "action", label: "Action", value: action, placeholder: "e.g. deployment.created" }],
      routes.audit(),
      (values) => ctx.navigate(routes.audit(values)),
    ),
  );
  const wait = loading("Loading the audit log…");
  ctx.root.append(wait);
  const first = await getJson(["audit"], { action, limit: PAGE });
  wait.remove();
  if (!first.items.length) {
    ctx.root.append(note(action ? `No entry has the action ${action}.` : "The audit log is empty."));
    return;
  }
  const tableWrap = table(
    "Audit entries, newest first",
    ["#", "When", "Who", "Action", "Target", "Details"],
    first.items.map(entryCells),
    { class: "audit" },
  );
  ctx.root.append(
    tableWrap,
    loadMore(
      "Load more",
      first.next_cursor,
      (cursor) => getJson(["audit"], { action, limit: PAGE, cursor }),
      (items) => appendRows(tableWrap, items.map(entryCells)),
    ),
  );
}
