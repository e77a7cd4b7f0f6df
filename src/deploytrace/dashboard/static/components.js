// Pieces every view shares: headings, loading and error states, badges, record and evidence
// tables, filter forms and the "Load more" button.

import { appendAll, dash, el, link, row, table } from "./dom.js";
import { ago, artifactLabel, kindLabel, shortDigest, utc } from "./format.js";
import { routes } from "./router.js";

export function setTitle(text) {
  document.title = text ? `${text} · deploytrace` : "deploytrace";
}

export function pageHeader(title, ...intro) {
  setTitle(title);
  return el(
    "header",
    { class: "page-header" },
    el("h1", {}, title),
    intro.length ? el("p", { class: "intro" }, intro) : null,
  );
}

export function loading(text = "Loading…") {
  return el("p", { class: "loading", role: "status" }, text);
}

/** What went wrong, in words: a 503 is the database, status 0 the network. */
export function errorText(error) {
  if (error && error.status === 503) {
    // The server's message already starts "database unavailable: …"; say it once.
    const detail = error.message.replace(/^database unavailable:?\s*/i, "");
    const why = detail ? ` (${detail})` : "";
    return `Database unavailable: the server cannot reach its database${why}. Try again in a moment.`;
  }
  if (error && error.status === 0) {
    return "Cannot reach the deploytrace server. Check that it is running.";
  }
  if (error && error.status === 404) {
    return `Not found: ${error.message}`;
  }
  if (error && error.status === 403) {
    return `Not allowed: ${error.message}`;
  }
  return error && error.message ? error.message : String(error);
}

export function errorBox(error, retry) {
  const outage = error && error.status === 503;
  const text = errorText(error);
  return el(
    "div",
    { class: "error-box", role: "alert" },
    el("h2", {}, outage ? "Database unavailable" : "Something went wrong"),
    el("p", {}, outage ? text.replace(/^Database unavailable: t/, "T") : text),
    retry ? el("button", { type: "button", onclick: retry }, "Try again") : null,
  );
}

export function badge(text, tone) {
  return el("span", { class: `badge badge-${tone}` }, text);
}

const STATUS_TONES = { deployed: "good", superseded: "neutral", decommissioned: "warn" };

export function statusBadge(status) {
  return badge(status, STATUS_TONES[status] ?? "neutral");
}

const VERIFICATION_TONES = { verified: "good", unverified: "neutral", invalid: "bad" };

/** The status, with method / identity / reason as a tooltip. */
export function verificationBadge(verification) {
  const node = badge(verification.status, VERIFICATION_TONES[verification.status] ?? "neutral");
  const details = [verification.method, verification.identity, verification.reason].filter(Boolean);
  if (details.length) {
    node.title = details.join(" · ");
  }
  return node;
}

/** <time> showing "5m ago" (relative) or the UTC time, the other as a tooltip. */
export function time(timestamp, relative = false) {
  if (!timestamp) {
    return dash();
  }
  const absolute = utc(timestamp);
  return el(
    "time",
    { datetime: timestamp, title: relative ? absolute : ago(timestamp) },
    relative ? ago(timestamp) : absolute,
  );
}

export function digestLink(digest, href) {
  return link(href, shortDigest(digest), { class: "digest", title: digest });
}

export function code(text) {
  return el("code", { class: "break" }, text);
}

/** A bulleted list, or a dash when empty. */
export function list(items, render = (item) => item) {
  if (!items.length) {
    return dash();
  }
  return el(
    "ul",
    { class: "plain" },
    items.map((item) => el("li", {}, render(item))),
  );
}

const RECORD_COLUMNS = [
  "Recorded",
  "Environment",
  "Logical environment",
  "Deployment",
  "Artifact",
  "Status",
  "Ended",
];

export function recordCells(record) {
  return [
    link(routes.record(record.id), utc(record.created_at), {
      title: "Open this deployment record",
    }),
    link(routes.home({ environment: record.environment }), record.environment),
    record.logical_environment,
    el("span", {}, record.deployment_name, el("span", { class: "kind" }, kindLabel(record.kind))),
    artifactCell(record.artifact),
    statusBadge(record.status),
    time(record.ended_at),
  ];
}

export function artifactCell(artifact) {
  return el(
    "span",
    { class: "artifact" },
    link(routes.artifact(artifact.digest), artifactLabel(artifact), { title: artifact.digest }),
    artifact.name ? el("span", { class: "artifact-name" }, artifact.name) : null,
  );
}

/** A table of deployment records whose body can grow (see `appendRows`). */
export function recordsTable(caption, records) {
  return table(caption, RECORD_COLUMNS, records.map(recordCells), { class: "records" });
}

const EVIDENCE_COLUMNS = [
  "Attestation",
  "Role",
  "Predicate type",
  "Workflow",
  "Project",
  "Version",
  "Verification",
  "Stored",
];

export function evidenceCells(entry) {
  const role = entry.material_type ? `${entry.role} (${entry.material_type})` : entry.role;
  return [
    digestLink(entry.digest, routes.attestation(entry.digest)),
    el("span", {}, role, entry.name ? el("span", { class: "artifact-name" }, entry.name) : null),
    el("span", { class: "break" }, entry.predicate_type),
    entry.workflow || dash(),
    entry.project || dash(),
    entry.project_version || dash(),
    verificationBadge(entry.verification),
    time(entry.created_at),
  ];
}

export function evidenceTable(caption, entries) {
  return table(caption, EVIDENCE_COLUMNS, entries.map(evidenceCells), { class: "evidence" });
}

export function appendRows(tableWrap, rows) {
  appendAll(
    tableWrap.querySelector("tbody"),
    rows.map((cells) => row(cells)),
  );
}

/**
 * "Load more": `fetchPage(cursor)` → {items, next_cursor}; `onItems(items)` shows them.
 * Hidden once there is nothing more; errors are shown next to it, and it can be retried.
 */
export function loadMore(label, cursor, fetchPage, onItems) {
  let next = cursor;
  const status = el("p", { class: "load-more-note", role: "status", tabindex: "-1" });
  const button = el("button", { type: "button", class: "load-more" }, label);
  const box = el("div", { class: "load-more-box" }, button, status);
  button.hidden = !next;
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = "Loading…";
    status.replaceChildren();
    try {
      const page = await fetchPage(next);
      onItems(page.items);
      next = page.next_cursor;
      if (!next) {
        button.hidden = true;
        status.textContent = "Everything is shown.";
        status.focus(); // the focused button disappears; keep keyboard focus nearby
      }
    } catch (error) {
      if (!error.handled) {
        status.replaceChildren(el("span", { class: "error" }, errorText(error)));
      }
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });
  return box;
}

/**
 * A filter form. Each field: {name, label, value, options?: [names], any?: "All …"}.
 * Applying navigates (the filters live in the route), so it works with Back and links.
 */
export function filterForm(label, fields, clearHref, onApply) {
  const form = el("form", {
    class: "filters",
    role: "search",
    "aria-label": label,
    method: "post",
  });
  for (const field of fields) {
    const id = `filter-${field.name}`;
    let control;
    if (field.options) {
      const options =
        field.value && !field.options.includes(field.value)
          ? [...field.options, field.value]
          : field.options;
      control = el(
        "select",
        { id, name: field.name },
        el("option", { value: "" }, field.any),
        options.map((name) => el("option", { value: name, selected: name === field.value }, name)),
      );
    } else {
      control = el("input", {
        id,
        name: field.name,
        type: "search",
        value: field.value || "",
        autocomplete: "off",
        spellcheck: "false",
        placeholder: field.placeholder,
      });
    }
    form.append(el("div", { class: "field" }, el("label", { for: id }, field.label), control));
  }
  form.append(
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit" }, "Apply"),
      link(clearHref, "Clear"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = {};
    for (const [key, value] of new FormData(form)) {
      values[key] = String(value).trim();
    }
    onApply(values);
  });
  return form;
}

/** A titled section, labelled by its heading so it is a landmark for screen readers. */
let sectionCount = 0;
export function section(title, ...children) {
  sectionCount += 1;
  const id = `section-${sectionCount}`;
  return el("section", { "aria-labelledby": id }, el("h2", { id }, title), children);
}

export function note(...text) {
  return el("p", { class: "note" }, text);
}
