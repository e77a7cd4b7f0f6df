// Home: what runs where. One table per environment, deployment (name + kind) × logical
// environment, each cell the slot's active record.

import { getAll } from "./api.js";
import { filterForm, loading, note, pageHeader, statusBadge, time } from "./components.js";
import { dash, el, link } from "./dom.js";
import { artifactLabel, kindLabel, utc } from "./format.js";
import { routes } from "./router.js";

// The logical environments every org starts with, in promotion order; others follow by name.
const PROMOTION_ORDER = ["development", "staging", "production"];

function byPromotion(a, b) {
  const rank = (name) => {
    const index = PROMOTION_ORDER.indexOf(name);
    return index < 0 ? PROMOTION_ORDER.length : index;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** Columns: the filtered one, else the default three plus any other in use. */
function columnsFor(logicalEnvironments, records, filter) {
  if (filter) {
    return [filter];
  }
  const names = new Set(records.map((r) => r.logical_environment));
  for (const { name } of logicalEnvironments) {
    if (PROMOTION_ORDER.includes(name)) {
      names.add(name);
    }
  }
  return [...names].sort(byPromotion);
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function slotKey(...parts) {
  return parts.join("\u0000");
}

function cell(record) {
  return el(
    "div",
    { class: "slot" },
    link(routes.record(record.id), artifactLabel(record.artifact), {
      class: "slot-version",
      title: record.artifact.digest,
    }),
    record.artifact.name ? el("span", { class: "artifact-name" }, record.artifact.name) : null,
    el(
      "span",
      { class: "slot-meta" },
      statusBadge(record.status),
      " last seen ",
      time(record.last_seen_at, true),
    ),
  );
}

function environmentTable(environment, description, records, columns) {
  const headingId = `env-${environment}`;
  const bySlot = new Map(
    records.map((r) => [slotKey(r.deployment_name, r.kind, r.logical_environment), r]),
  );
  const deployments = new Map();
  for (const r of records) {
    deployments.set(slotKey(r.deployment_name, r.kind), [r.deployment_name, r.kind]);
  }
  const rows = [...deployments.values()].sort(
    (a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]),
  );
  const heading = el(
    "div",
    { class: "env-heading" },
    el("h2", { id: headingId }, environment),
    description ? el("p", { class: "muted" }, description) : null,
    link(routes.history({ environment }), "History", { class: "env-link" }),
  );
  if (!rows.length) {
    return el(
      "section",
      { class: "env", "aria-labelledby": headingId },
      heading,
      note("Nothing is deployed here."),
    );
  }
  const head = el(
    "thead",
    {},
    el(
      "tr",
      {},
      el("th", { scope: "col" }, "Deployment"),
      columns.map((c) => el("th", { scope: "col" }, c)),
    ),
  );
  const body = el(
    "tbody",
    {},
    rows.map(([name, kind]) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, name, el("span", { class: "kind" }, kindLabel(kind))),
        columns.map((logical) => {
          const record = bySlot.get(slotKey(name, kind, logical));
          return el(
            "td",
            {
              "data-slot": `${environment}/${logical}/${name}/${kind}`,
              "data-label": logical,
              class: record ? null : "empty",
            },
            record ? cell(record) : dash(),
          );
        }),
      ),
    ),
  );
  return el(
    "section",
    { class: "env", "aria-labelledby": headingId },
    heading,
    el("div", { class: "table-wrap" }, el("table", { class: "matrix" }, head, body)),
  );
}

export async function renderMatrix(ctx) {
  const environment = ctx.params.get("environment") || "";
  const logical = ctx.params.get("logical_environment") || "";
  ctx.root.append(
    pageHeader(
      "What runs where",
      "The artifact each deployment runs now, per environment and logical environment.",
    ),
  );
  const wait = loading("Loading deployments…");
  ctx.root.append(wait);
  const [environments, logicalEnvironments, records] = await Promise.all([
    getAll(["environments"]),
    getAll(["logical-environments"]),
    getAll(["deployments"], { environment, logical_environment: logical }),
  ]);
  wait.remove();

  ctx.root.append(
    filterForm(
      "Filter what runs where",
      [
        {
          name: "environment",
          label: "Environment",
          value: environment,
          any: "All environments",
          options: environments.items.map((e) => e.name),
        },
        {
          name: "logical_environment",
          label: "Logical environment",
          value: logical,
          any: "All logical environments",
          options: logicalEnvironments.items.map((e) => e.name),
        },
      ],
      routes.home(),
      (values) => ctx.navigate(routes.home(values)),
    ),
  );

  const envNames = environment
    ? [environment]
    : [
        ...new Set([
          ...environments.items.map((e) => e.name),
          ...records.items.map((r) => r.environment),
        ]),
      ].sort();
  const descriptions = new Map(environments.items.map((e) => [e.name, e.description]));
  const envCount = new Set(records.items.map((r) => r.environment)).size;
  ctx.root.append(
    el(
      "p",
      { class: "summary" },
      `${plural(records.items.length, "active deployment")} in ${plural(envCount, "environment")}, `,
      `as of ${utc(new Date().toISOString())}. `,
      el("button", { type: "button", class: "quiet", onclick: ctx.rerender }, "Refresh"),
    ),
  );
  if (records.truncated) {
    ctx.root.append(note("Showing the first records only; filter by environment to see the rest."));
  }
  if (!envNames.length) {
    ctx.root.append(
      note(
        "No environments yet. Create one with ",
        el("code", {}, "deploytrace environment create"),
        ".",
      ),
    );
    return;
  }
  const columns = columnsFor(logicalEnvironments.items, records.items, logical);
  for (const name of envNames) {
    const mine = records.items.filter((r) => r.environment === name);
    ctx.root.append(environmentTable(name, descriptions.get(name), mine, columns));
  }
}
