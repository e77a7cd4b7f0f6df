// The evidence store: attestations (filtered by project / workflow / subject) and one
// attestation's subjects, references and verification.

import { getJson, getText } from "./api.js";
import {
  appendRows,
  code,
  digestLink,
  errorText,
  filterForm,
  loadMore,
  loading,
  note,
  pageHeader,
  section,
  time,
  verificationBadge,
} from "./components.js";
import { dash, definitions, el, link, table } from "./dom.js";
import { bytes, isArtifactDigest } from "./format.js";
import { routes } from "./router.js";

// Bigger attestations are not offered inline: the page would have to hold them as text.
const MAX_INLINE_BYTES = 2 * 1024 * 1024;
const SUBJECTS_SHOWN = 3;

// Lists carry the first few subjects and `subjects_count` of them all.
function subjectsCell(subjects, count) {
  if (!subjects.length) {
    return dash();
  }
  const names = subjects.slice(0, SUBJECTS_SHOWN).map((s) => s.name || s.digest || "(unnamed)");
  const more = Math.max(count ?? subjects.length, subjects.length) - names.length;
  return el(
    "span",
    { class: "break" },
    names.join(", "),
    more > 0 ? el("span", { class: "muted" }, ` and ${more} more`) : null,
  );
}

/** A digest, linked to its artifact view when it can be an OCI artifact. */
function digestOrLink(digest) {
  return isArtifactDigest(digest) ? link(routes.artifact(digest), code(digest)) : code(digest);
}

function subjectDigest(subject) {
  if (subject.digest) {
    return digestOrLink(subject.digest);
  }
  const all = Object.entries(subject.digests).map(([algorithm, value]) => `${algorithm}:${value}`);
  return all.length ? code(all.join(", ")) : dash();
}

function attestationCells(item) {
  return [
    digestLink(item.digest, routes.attestation(item.digest)),
    el("span", { class: "break" }, item.predicate_type),
    subjectsCell(item.subjects, item.subjects_count),
    item.workflow || dash(),
    item.project || dash(),
    item.project_version || dash(),
    verificationBadge(item.verification),
    time(item.created_at),
  ];
}

const COLUMNS = [
  "Attestation",
  "Predicate type",
  "Subjects",
  "Workflow",
  "Project",
  "Version",
  "Verification",
  "Stored",
];

export async function renderAttestations(ctx) {
  const filters = {
    project: ctx.params.get("project") || "",
    workflow: ctx.params.get("workflow") || "",
    subject: ctx.params.get("subject") || "",
  };
  ctx.root.append(pageHeader("Attestations", "The evidence store, newest first."));
  ctx.root.append(
    filterForm(
      "Filter attestations",
      [
        { name: "project", label: "Project", value: filters.project },
        { name: "workflow", label: "Workflow", value: filters.workflow },
        {
          name: "subject",
          label: "Subject digest",
          value: filters.subject,
          placeholder: "sha256:…",
        },
      ],
      routes.attestations(),
      (values) => ctx.navigate(routes.attestations(values)),
    ),
  );
  const wait = loading("Loading attestations…");
  ctx.root.append(wait);
  const first = await getJson(["attestations"], filters);
  wait.remove();
  if (!first.items.length) {
    ctx.root.append(note("No attestations match."));
    return;
  }
  const tableWrap = table(
    "Attestations, newest first",
    COLUMNS,
    first.items.map(attestationCells),
    { class: "attestations" },
  );
  ctx.root.append(
    tableWrap,
    loadMore(
      "Load more",
      first.next_cursor,
      (cursor) => getJson(["attestations"], { ...filters, cursor }),
      (items) => appendRows(tableWrap, items.map(attestationCells)),
    ),
  );
}

function rawContent(digest, size) {
  if (size > MAX_INLINE_BYTES) {
    return note(
      `The attestation is ${bytes(size)}; use `,
      code(`deploytrace attestation describe --content ${digest}`),
      " to read it.",
    );
  }
  const output = el("div", { role: "status" });
  const button = el("button", { type: "button" }, "Show the stored bytes");
  button.addEventListener("click", async () => {
    button.disabled = true;
    output.textContent = "Loading…";
    try {
      const text = await getText(["attestations", digest, "content"]);
      output.replaceChildren(el("pre", { class: "raw", tabindex: "0" }, text));
      button.hidden = true;
    } catch (error) {
      output.replaceChildren(el("p", { class: "error" }, errorText(error)));
      button.disabled = false;
    }
  });
  return el("div", {}, button, output);
}

export async function renderAttestation(ctx, digest) {
  ctx.root.append(pageHeader("Attestation", code(digest)));
  const wait = loading("Loading the attestation…");
  ctx.root.append(wait);
  const item = await getJson(["attestations", digest]);
  wait.remove();
  const v = item.verification;
  ctx.root.append(
    definitions([
      ["Predicate type", el("span", { class: "break" }, item.predicate_type)],
      ["Statement type", item.statement_type],
      ["Format", item.format],
      ["Media type", item.media_type],
      [
        "Workflow",
        item.workflow
          ? link(routes.attestations({ workflow: item.workflow }), item.workflow)
          : null,
      ],
      [
        "Project",
        item.project ? link(routes.attestations({ project: item.project }), item.project) : null,
      ],
      ["Project version", item.project_version],
      ["Size", bytes(item.size)],
      ["Stored", time(item.created_at)],
    ]),
    section(
      "Verification",
      definitions([
        ["Status", verificationBadge(v)],
        ["Method", v.method],
        ["Identity", v.identity ? el("span", { class: "break" }, v.identity) : null],
        ["Reason", v.reason],
      ]),
    ),
    section(
      "Subjects",
      item.subjects.length
        ? table(
            null,
            ["Name", "Digest", "URI"],
            item.subjects.map((s) => [
              s.name ? el("span", { class: "break" }, s.name) : dash(),
              subjectDigest(s),
              s.uri ? el("span", { class: "break" }, s.uri) : dash(),
            ]),
          )
        : note("No subjects."),
    ),
    section(
      "Artifacts it names",
      item.references.length
        ? table(
            null,
            ["Digest", "Role", "Material type", "Name"],
            item.references.map((r) => [
              digestOrLink(r.digest),
              r.role,
              r.material_type || dash(),
              r.name ? el("span", { class: "break" }, r.name) : dash(),
            ]),
          )
        : note("It names no artifact by digest."),
    ),
    section("Content", rawContent(item.digest, item.size)),
  );
}
