// One artifact by digest: the evidence behind it, where it runs now and where it ran.

import { getAll, getJson } from "./api.js";
import {
  appendRows,
  code,
  loadMore,
  loading,
  note,
  pageHeader,
  recordCells,
  recordsTable,
  section,
} from "./components.js";
import { el } from "./dom.js";
import { attestationsBlock, evidenceSummary } from "./view-record.js";

export async function renderArtifact(ctx, digest) {
  ctx.root.append(pageHeader("Artifact", code(digest)));
  const wait = loading("Loading the artifact…");
  ctx.root.append(wait);
  // "Running now" asks for the active records of this digest, so it is right however long
  // the artifact's history is; the full history pages separately below.
  const [artifact, active] = await Promise.all([
    getJson(["artifacts", digest]),
    getAll(["deployments"], { digest }),
  ]);
  wait.remove();

  const names = [...new Set(artifact.deployments.map((r) => r.artifact.name).filter(Boolean))];
  if (names.length) {
    ctx.root.append(el("p", { class: "summary" }, `Known as ${names.join(", ")}.`));
  }

  ctx.root.append(
    section(
      "Where it runs now",
      active.items.length
        ? recordsTable("Active deployment records", active.items)
        : note("It is not deployed anywhere now."),
    ),
  );

  let history;
  if (artifact.deployments.length) {
    const tableWrap = recordsTable(
      "Deployment records of this artifact, newest first",
      artifact.deployments,
    );
    history = [
      tableWrap,
      loadMore(
        "Load more records",
        artifact.deployments_next_cursor,
        async (cursor) => {
          const page = await getJson(["artifacts", digest], { deployments_cursor: cursor });
          return { items: page.deployments, next_cursor: page.deployments_next_cursor };
        },
        (items) => appendRows(tableWrap, items.map(recordCells)),
      ),
    ];
  } else {
    history = note("It was never deployed.");
  }
  ctx.root.append(section("Where it ran", history));

  ctx.root.append(
    section(
      "Evidence",
      evidenceSummary(artifact),
      attestationsBlock(
        artifact.attestations,
        artifact.attestations_next_cursor,
        async (cursor) => {
          const page = await getJson(["artifacts", digest], { attestations_cursor: cursor });
          return { items: page.attestations, next_cursor: page.attestations_next_cursor };
        },
      ),
    ),
  );
}
