// Pieces every view shares: headings, loading and error states, badges, record and evidence
// tables, filter forms and the "Load more" button.

import { appendAll, dash, el, link, row, table } from "./dom.js";
import { ago, artifactLabel, httpUrl, kindLabel, plural, shortDigest, utc } from "./format.js";
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

const ERROR_TITLES = { 0: "Server unreachable", 403: "Not allowed", 503: "Database unavailable" };

export function errorBox(error, retry) {
  const status = error ? error.status : undefined;
  const text = errorText(error);
  // Retrying helps when the server or its database was away, not when the answer was "no".
  const retryable = !(status >= 400 && status < 500);
  return el(
    "div",
    { class: "error-box", role: "alert" },
    el("h2", {}, ERROR_TITLES[status] ?? "Something went wrong"),
    el("p", {}, status === 503 ? text.replace(/^Database unavailable: t/, "T") : text),
    retry && retryable ? el("button", { type: "button", onclick: retry }, "Try again") : null,
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
  "Reported by",
];

export function recordCells(record) {
  return [
    link(routes.record(record.id), utc(record.created_at), {
      title: "Open this deployment record",
    }),
    link(routes.home({ environment: record.environment }), record.environment),
    record.logical_environment,
    el(
      "span",
      {},
      link(routes.app(record.deployment_name), record.deployment_name, {
        title: "This deployment everywhere",
      }),
      el("span", { class: "kind" }, kindLabel(record.kind)),
    ),
    artifactCell(record.artifact),
    recordStatus(record),
    time(record.ended_at),
    reportedBy(record.reported_by),
  ];
}

/** The status, why it ended (when that says more than the status), and the flags. */
export function recordStatus(record) {
  const reason =
    record.ended_reason && record.ended_reason !== record.status
      ? el("span", { class: "muted" }, ` (${endedReasonLabel(record.ended_reason)})`)
      : null;
  return el(
    "span",
    { class: "badges" },
    statusBadge(record.status),
    reason,
    record.stale ? staleBadge(record) : null,
    record.promotion ? promotionBadge(record) : null,
    policyBadge(record.policy),
  );
}

const ENDED_REASONS = {
  superseded: "superseded",
  decommissioned: "decommissioned",
  absent: "gone from its snapshot",
  replaced: "replaced by an unrecordable digest",
};

export function endedReasonLabel(reason) {
  return ENDED_REASONS[reason] ?? String(reason);
}

/** A badge that tests and styles can find by what it flags. */
export function flag(name, text, tone, title) {
  return el("span", { class: `badge badge-${tone}`, "data-flag": name, title }, text);
}

export function staleBadge(record) {
  return flag("stale", "stale", "warn", `Not seen since ${utc(record.last_seen_at)}`);
}

export function promotionBadge(record) {
  const skipped = record.promotion.skipped;
  return flag(
    "skipped-promotion",
    `skipped ${skipped}`,
    "warn",
    `This digest was never deployed in ${skipped} before it reached ${record.logical_environment}`,
  );
}

const POLICY_FLAGS = {
  violated: ["policy violated", "bad"],
  passed: ["policy passed", "good"],
  skipped: ["policy skipped", "neutral"],
};

/** The policy verdict of a record; nothing when no policy applied. */
export function policyBadge(policy) {
  if (!policy || !policy.status || policy.status === "none") {
    return null;
  }
  if (policy.override) {
    return flag(
      "policy",
      "policy overridden",
      "bad",
      `Recorded despite a policy by ${policy.override.by}: ${policy.override.reason}`,
    );
  }
  const [text, tone] = POLICY_FLAGS[policy.status] ?? [`policy ${policy.status}`, "neutral"];
  const messages = (policy.violations || []).map((v) => `${v.policy}: ${v.message}`);
  return flag("policy", text, tone, messages.join("\n") || null);
}

/** How well the artifact is attested: {verified, unverified, invalid} counts. */
export function evidenceBadge(counts) {
  if (!counts) {
    return null;
  }
  const total = counts.verified + counts.unverified + counts.invalid;
  const parts = [];
  for (const key of ["verified", "unverified", "invalid"]) {
    if (counts[key]) {
      parts.push(`${counts[key]} ${key}`);
    }
  }
  const title = total ? `${plural(total, "attestation")}: ${parts.join(", ")}` : "No attestation";
  if (counts.invalid) {
    return flag("evidence", "invalid signature", "bad", title);
  }
  if (counts.verified) {
    return flag("evidence", "verified", "good", title);
  }
  if (counts.unverified) {
    return flag("evidence", "unverified", "neutral", title);
  }
  return flag("evidence", "no evidence", "bad", title);
}

/** Who reported a record: the token's name and, from CI, a link to the run. */
export function reportedBy(reported) {
  if (!reported || (!reported.token && !reported.ci)) {
    return dash();
  }
  const ci = reported.ci;
  return el(
    "span",
    { class: "reported-by" },
    reported.token ? el("span", { class: "token-name" }, reported.token) : null,
    ci ? el("span", { class: "ci" }, ciRun(ci)) : null,
  );
}

const PROVIDERS = { github: "GitHub Actions", gitlab: "GitLab CI" };

/** "GitHub Actions run" (a link when the run URL is http(s)), with actor and commit. */
export function ciRun(ci) {
  const label = `${PROVIDERS[ci.provider] ?? ci.provider} run`;
  const url = httpUrl(ci.run_url);
  const details = [ci.actor ? `by ${ci.actor}` : null, ci.commit ? ci.commit.slice(0, 7) : null];
  return [
    url
      ? el(
          "a",
          { href: url, rel: "noopener noreferrer", target: "_blank", class: "ci-run" },
          label,
        )
      : el("span", { class: "ci-run" }, label),
    details.some(Boolean) ? el("span", { class: "muted" }, ` ${details.filter(Boolean).join(" · ")}`) : null,
  ];
}

/** Text that may break after "/" and "." only (repositories, dotted names), never mid-word. */
export function breakable(text) {
  const parts = String(text).split(/(?<=[/.])/);
  const nodes = [];
  parts.forEach((part, i) => {
    if (i > 0) {
      nodes.push(el("wbr"));
    }
    nodes.push(part);
  });
  return nodes;
}

/** The page for a thing that does not exist (a 404), with a way on. */
export function notFoundPage(message, title = "Not found") {
  return [
    pageHeader(title),
    note(message || "There is no such thing here.", " ", link(routes.home(), "Go to what runs where"), "."),
  ];
}

/** Said in place of a view whose endpoint this server does not have yet. */
export function unavailable(what) {
  return el(
    "div",
    { class: "unavailable", role: "status" },
    el("h2", {}, "Not available on this server"),
    el(
      "p",
      {},
      `${what} needs a newer deploytrace server: this one does not answer it. `,
      "Upgrade the server to see it here.",
    ),
  );
}

export function artifactCell(artifact) {
  return el(
    "span",
    { class: "artifact" },
    link(routes.artifact(artifact.digest), artifactLabel(artifact), { title: artifact.digest }),
    artifact.name ? el("span", { class: "artifact-name" }, breakable(artifact.name)) : null,
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
