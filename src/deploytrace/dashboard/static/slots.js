// What one slot shows (a matrix cell): the version it runs, how well that is attested,
// whether it is stale, skipped a stage or broke a policy, and what runs there without
// evidence. Shared by "what runs where" and the per-application view.

import { getJsonIfAvailable } from "./api.js";
import {
  breakable,
  evidenceBadge,
  flag,
  policyBadge,
  promotionBadge,
  staleBadge,
  time,
} from "./components.js";
import { dash, el, link } from "./dom.js";
import { ago, artifactLabel, shortDigest, utc } from "./format.js";
import { routes } from "./router.js";

// Digests per /v1/dashboard/attested request: keeps the URL well under server limits.
const ATTESTED_CHUNK = 80;

export function slotKey(...parts) {
  return parts.join("\u0000");
}

/** Logical environment names as columns: the promotion order first (by `position`),
 * then those outside it, by name; `inUse` adds names only records mention. */
export function logicalColumns(logicalEnvironments, inUse, filter) {
  if (filter) {
    return [filter];
  }
  const ordered = logicalEnvironments
    .filter((e) => e.position !== null && e.position !== undefined)
    .sort((a, b) => a.position - b.position || a.name.localeCompare(b.name))
    .map((e) => e.name);
  const known = new Set(logicalEnvironments.map((e) => e.name));
  const others = [
    ...logicalEnvironments
      .filter((e) => (e.position === null || e.position === undefined) && inUse.has(e.name))
      .map((e) => e.name),
    ...[...inUse].filter((name) => !known.has(name)),
  ].sort((a, b) => a.localeCompare(b));
  return [...ordered, ...others];
}

/** Every logical environment: the promotion order first, then the others by name. */
export function allLogical(logicalEnvironments) {
  return logicalColumns(logicalEnvironments, new Set(logicalEnvironments.map((e) => e.name)), "");
}

/** The promotion order alone (logical environments with a `position`). */
export function promotionOrder(logicalEnvironments) {
  return logicalColumns(logicalEnvironments, new Set(), "");
}

/** digest → {verified, unverified, invalid} for the given digests (empty if unavailable). */
export async function attestedCounts(digests) {
  const unique = [...new Set(digests)].sort();
  const counts = new Map();
  const chunks = [];
  for (let i = 0; i < unique.length; i += ATTESTED_CHUNK) {
    chunks.push(unique.slice(i, i + ATTESTED_CHUNK));
  }
  const answers = await Promise.all(
    chunks.map((chunk) => getJsonIfAvailable(["dashboard", "attested"], { digest: chunk })),
  );
  for (const answer of answers) {
    for (const item of answer ? answer.items : []) {
      counts.set(item.digest, item);
    }
  }
  return counts;
}

/** The repository most cells of a row share, shown once in the row header. */
export function sharedRepository(records) {
  const seen = new Map();
  for (const r of records) {
    if (r.artifact.name) {
      seen.set(r.artifact.name, (seen.get(r.artifact.name) || 0) + 1);
    }
  }
  let best = null;
  for (const [name, count] of seen) {
    if (best === null || count > seen.get(best)) {
      best = name;
    }
  }
  return best;
}

/**
 * One active record in a cell. `options`: {repository: the row's shared repository,
 * counts: digest → attestation counts, past: true when showing an instant in the past
 * (staleness is only known for now)}.
 */
export function recordSlot(record, options = {}) {
  const counts = options.counts ? options.counts.get(record.artifact.digest) : null;
  const stale = record.stale && !options.past;
  const otherRepository =
    record.artifact.name && record.artifact.name !== options.repository
      ? el("span", { class: "artifact-name" }, breakable(record.artifact.name))
      : null;
  return el(
    "div",
    { class: stale ? "slot slot-stale" : "slot" },
    link(routes.record(record.id), artifactLabel(record.artifact), {
      class: "slot-version",
      title: `${artifactLabel(record.artifact)} · ${record.artifact.digest}`,
    }),
    otherRepository,
    el(
      "span",
      { class: "badges" },
      evidenceBadge(counts),
      stale ? staleBadge(record) : null,
      record.promotion ? promotionBadge(record) : null,
      policyBadge(record.policy),
    ),
    options.past
      ? el("span", { class: "slot-meta" }, "deployed ", time(record.created_at, true))
      : el(
          "span",
          { class: stale ? "slot-meta stale" : "slot-meta" },
          "last seen ",
          time(record.last_seen_at, true),
        ),
  );
}

const UNATTESTED_REASONS = {
  not_attested: "no attestation names its digest",
  no_repository_digest: "no repository digest",
  invalid_name: "its name cannot be a deployment name",
  unmappable: "cannot be mapped to a deployment",
};

export function unattestedReason(workload) {
  return UNATTESTED_REASONS[workload.reason] ?? workload.reason;
}

/** A workload a reporter saw running with no evidence behind it: red, not hidden. */
export function unattestedSlot(workload) {
  const what = workload.artifact_version || (workload.digest ? shortDigest(workload.digest) : null);
  const reason = unattestedReason(workload);
  return el(
    "div",
    {
      class: "slot slot-unattested",
      title: [workload.artifact_name, workload.digest, `last seen ${utc(workload.last_seen_at)}`]
        .filter(Boolean)
        .join(" · "),
    },
    flag("unattested", "running without evidence", "bad"),
    what ? el("span", { class: "slot-version unattested-version" }, what) : null,
    el("span", { class: "slot-meta" }, reason, " · seen ", ago(workload.last_seen_at)),
  );
}

/** A cell's content: the record, any unattested workload, or a dash. */
export function slotContent(record, workloads, options) {
  if (!record && !workloads.length) {
    return dash();
  }
  return [record ? recordSlot(record, options) : null, workloads.map(unattestedSlot)];
}
