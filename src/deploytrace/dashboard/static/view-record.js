// One deployment record and the evidence behind its artifact.

import { getJson } from "./api.js";
import {
  appendRows,
  artifactCell,
  ciRun,
  code,
  endedReasonLabel,
  evidenceCells,
  evidenceTable,
  list,
  loadMore,
  loading,
  note,
  pageHeader,
  policyBadge,
  promotionBadge,
  recordStatus,
  section,
  statusBadge,
  time,
} from "./components.js";
import { definitions, el, link, table } from "./dom.js";
import { artifactLabel, kindLabel } from "./format.js";
import { routes } from "./router.js";

/** Workflows, projects and project versions: shared with the artifact view. */
export function evidenceSummary(evidence) {
  return definitions([
    ["Workflows", list(evidence.workflows)],
    ["Projects", list(evidence.projects)],
    ["Project versions", list(evidence.project_versions, (pv) => `${pv.project} ${pv.version}`)],
  ]);
}

/** The attestations table with its own "Load more" (pages via `attestations_cursor`). */
export function attestationsBlock(entries, cursor, fetchPage) {
  if (!entries.length) {
    return note("No attestation names this artifact.");
  }
  const tableWrap = evidenceTable("Attestations naming this artifact", entries);
  return el(
    "div",
    {},
    tableWrap,
    loadMore("Load more attestations", cursor, fetchPage, (items) =>
      appendRows(tableWrap, items.map(evidenceCells)),
    ),
  );
}

/** "v1.1.0 (recorded 2024-07-12 11:05:19 UTC)": the record that replaced this one. */
async function supersededBy(id) {
  try {
    const next = await getJson(["deployments", id]);
    return el(
      "span",
      {},
      link(routes.record(id), artifactLabel(next.artifact), {
        class: "superseded-by",
        title: next.artifact.digest,
      }),
      el("span", { class: "muted" }, " recorded ", time(next.created_at)),
    );
  } catch (error) {
    if (error.handled) {
      throw error;
    }
    return link(routes.record(id), id.slice(0, 8), { class: "superseded-by", title: id });
  }
}

function ciDetails(ci) {
  if (!ci) {
    return null;
  }
  return definitions([
    ["Run", ciRun(ci)],
    ["Commit", ci.commit ? code(ci.commit) : null],
    ["Ref", ci.ref],
    ["Actor", ci.actor],
    ["Workflow", ci.workflow],
  ]);
}

const POLICY_WORDS = {
  passed: "Every attached policy passed.",
  skipped: "The attached policies did not apply to this artifact (skipped).",
  none: "No policy is attached to this logical environment.",
  violated: "Recorded although policies were violated.",
};

function policySection(policy) {
  const status = (policy && policy.status) || "none";
  const violations = (policy && policy.violations) || [];
  const override = policy && policy.override;
  return section(
    "Policy",
    el("p", { class: "policy-status" }, policyBadge(policy), " ", POLICY_WORDS[status] ?? status),
    violations.length
      ? table(
          "Violations when the record was created",
          ["Policy", "Version", "Violation"],
          violations.map((v) => [
            v.policy,
            v.version === undefined || v.version === null ? "—" : String(v.version),
            el("span", { class: "break" }, v.message),
          ]),
          { class: "violations" },
        )
      : null,
    override
      ? definitions([
          ["Overridden by", override.by],
          ["Reason", el("span", { class: "break" }, override.reason)],
        ])
      : null,
  );
}

export async function renderRecord(ctx, id) {
  const wait = loading("Loading the deployment record…");
  ctx.root.append(wait);
  const record = await getJson(["deployments", id]);
  const next = record.superseded_by ? await supersededBy(record.superseded_by) : null;
  wait.remove();
  const title = `${record.deployment_name} in ${record.environment} / ${record.logical_environment}`;
  const reported = record.reported_by || {};
  ctx.root.append(
    pageHeader(title, statusBadge(record.status), " ", kindLabel(record.kind)),
    definitions([
      ["Environment", link(routes.home({ environment: record.environment }), record.environment)],
      ["Logical environment", record.logical_environment],
      ["Deployment name", link(routes.app(record.deployment_name), record.deployment_name)],
      ["Kind", record.kind],
      ["Artifact", artifactCell(record.artifact)],
      ["Digest", link(routes.artifact(record.artifact.digest), code(record.artifact.digest))],
      ["Status", recordStatus(record)],
      ["Recorded", time(record.created_at)],
      ["Last seen", time(record.last_seen_at)],
      ["Heartbeats", String(record.heartbeats ?? 0)],
      ["Updated", time(record.updated_at)],
      ["Ended", time(record.ended_at)],
      ["Ended because", record.ended_reason ? endedReasonLabel(record.ended_reason) : null],
      ["Superseded by", next],
      [
        "Promotion",
        record.promotion
          ? promotionBadge(record)
          : el("span", { class: "muted" }, "followed the promotion order (or is outside it)"),
      ],
      ["Scope", record.scope ? code(record.scope) : null],
      ["Reported by", reported.token ? el("span", { class: "token-name" }, reported.token) : null],
      ["CI run", ciDetails(reported.ci)],
      ["Record id", code(record.id)],
    ]),
    el(
      "p",
      {},
      link(
        routes.history({
          environment: record.environment,
          logical_environment: record.logical_environment,
          deployment_name: record.deployment_name,
        }),
        "History of this deployment",
      ),
    ),
    policySection(record.policy),
  );
  const evidence = record.evidence;
  ctx.root.append(
    section(
      "Evidence",
      evidenceSummary(evidence),
      attestationsBlock(
        evidence.attestations,
        evidence.attestations_next_cursor,
        async (cursor) => {
          const page = await getJson(["deployments", id], { attestations_cursor: cursor });
          return {
            items: page.evidence.attestations,
            next_cursor: page.evidence.attestations_next_cursor,
          };
        },
      ),
    ),
  );
}
