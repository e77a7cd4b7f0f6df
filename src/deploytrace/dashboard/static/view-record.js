// One deployment record and the evidence behind its artifact.

import { getJson } from "./api.js";
import {
  appendRows,
  artifactCell,
  code,
  evidenceCells,
  evidenceTable,
  list,
  loadMore,
  loading,
  note,
  pageHeader,
  section,
  statusBadge,
  time,
} from "./components.js";
import { definitions, el, link } from "./dom.js";
import { kindLabel } from "./format.js";
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

export async function renderRecord(ctx, id) {
  const wait = loading("Loading the deployment record…");
  ctx.root.append(wait);
  const record = await getJson(["deployments", id]);
  wait.remove();
  const title = `${record.deployment_name} in ${record.environment} / ${record.logical_environment}`;
  ctx.root.append(
    pageHeader(title, statusBadge(record.status), " ", kindLabel(record.kind)),
    definitions([
      ["Environment", link(routes.home({ environment: record.environment }), record.environment)],
      ["Logical environment", record.logical_environment],
      ["Deployment name", record.deployment_name],
      ["Kind", record.kind],
      ["Artifact", artifactCell(record.artifact)],
      ["Digest", link(routes.artifact(record.artifact.digest), code(record.artifact.digest))],
      ["Status", statusBadge(record.status)],
      ["Recorded", time(record.created_at)],
      ["Last seen", time(record.last_seen_at)],
      ["Updated", time(record.updated_at)],
      ["Ended", time(record.ended_at)],
      [
        "Superseded by",
        record.superseded_by
          ? link(routes.record(record.superseded_by), record.superseded_by)
          : null,
      ],
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
