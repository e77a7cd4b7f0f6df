// One artifact by digest: the evidence behind it, where it runs now and where it ran.

import { getAll, getJson, getJsonIfAvailable } from "./api.js";
import {
  appendRows,
  code,
  digestLink,
  flag,
  loadMore,
  loading,
  note,
  pageHeader,
  recordCells,
  recordsTable,
  section,
} from "./components.js";
import { dash, el, table } from "./dom.js";
import { routes } from "./router.js";
import { attestationsBlock, evidenceSummary } from "./view-record.js";

// What the artifact contains and what scanners found in it (SPEC §10): served by
// /v1/artifacts/{digest}/components and /findings, pages of {items, next_cursor}.
const SEVERITY_TONES = { critical: "bad", high: "bad", medium: "warn", low: "neutral" };

function componentCells(c) {
  return [
    el("span", { class: "break" }, c.name || "—"),
    c.version || dash(),
    c.purl ? el("code", { class: "break" }, c.purl) : dash(),
    c.attestation ? digestLink(c.attestation, routes.attestation(c.attestation)) : dash(),
  ];
}

function findingCells(f) {
  const id = f.vulnerability || f.id || "—";
  const severity = f.severity ? String(f.severity).toLowerCase() : null;
  const suppressed = f.suppression
    ? flag(
        "suppressed",
        `VEX: ${f.suppression.status}`,
        "neutral",
        [f.suppression.justification, `${f.suppression.verification} VEX statement`]
          .filter(Boolean)
          .join(" · "),
      )
    : null;
  return [
    el("span", { class: "break" }, id),
    severity ? flag("severity", severity, SEVERITY_TONES[severity] ?? "neutral") : dash(),
    el(
      "span",
      { class: "break" },
      f.name || f.purl || "—",
      f.version ? el("span", { class: "muted" }, ` ${f.version}`) : null,
    ),
    suppressed || dash(),
    f.attestation ? digestLink(f.attestation, routes.attestation(f.attestation)) : dash(),
  ];
}

/** A paged table of an artifact's components or findings, or why there is none. */
async function contentsSection(title, digest, what, columns, cells, empty) {
  const first = await getJsonIfAvailable(["artifacts", digest, what]);
  if (first === null) {
    return section(
      title,
      note(`This server does not index ${what} of artifacts yet (it comes with a newer server).`),
    );
  }
  if (!first.items.length) {
    return section(title, note(empty));
  }
  const tableWrap = table(null, columns, first.items.map(cells), { class: what });
  return section(
    title,
    tableWrap,
    loadMore(
      `Load more ${what}`,
      first.next_cursor,
      (cursor) => getJson(["artifacts", digest, what], { cursor }),
      (items) => appendRows(tableWrap, items.map(cells)),
    ),
  );
}

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

  const [components, findings] = await Promise.all([
    contentsSection(
      "Components",
      digest,
      "components",
      ["Component", "Version", "Package URL", "Attestation"],
      componentCells,
      "No SBOM of this artifact lists components.",
    ),
    contentsSection(
      "Vulnerability findings",
      digest,
      "findings",
      ["Vulnerability", "Severity", "Package", "VEX", "Attestation"],
      findingCells,
      "No scan of this artifact reports a vulnerability.",
    ),
  ]);
  ctx.root.append(findings, components);

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
