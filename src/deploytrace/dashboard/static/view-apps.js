// Applications: every deployment name, and one name across every environment and
// logical environment (what runs where for that application alone, and its history).

import { getAll, getAllIfAvailable, getJson } from "./api.js";
import {
  appendRows,
  breakable,
  filterForm,
  loadMore,
  loading,
  note,
  pageHeader,
  recordsTable,
  section,
} from "./components.js";
import { el, link, table } from "./dom.js";
import { kindLabel, plural } from "./format.js";
import { routes } from "./router.js";
import {
  attestedCounts,
  logicalColumns,
  sharedRepository,
  slotContent,
  slotKey,
} from "./slots.js";

const RECENT = 20;

function nameCells(n) {
  return [
    link(routes.app(n.deployment_name), breakable(n.deployment_name), { class: "deployment-name" }),
    n.active ? plural(n.active, "slot") : el("span", { class: "muted" }, "nowhere now"),
    String(n.slots),
  ];
}

export async function renderApps(ctx) {
  const contains = (ctx.params.get("contains") || "").trim();
  ctx.root.append(
    pageHeader("Applications", "Every deployment name; open one to see it across every environment."),
    filterForm(
      "Filter applications",
      [{ name: "contains", label: "Name contains", value: contains, placeholder: "e.g. api" }],
      routes.apps(),
      (values) => ctx.navigate(routes.apps(values)),
    ),
  );
  const wait = loading("Loading applications…");
  ctx.root.append(wait);
  const first = await getJson(["dashboard", "deployment-names"], { contains, limit: 100 });
  wait.remove();
  if (!first.items.length) {
    ctx.root.append(note(contains ? `No deployment name contains “${contains}”.` : "Nothing was deployed yet."));
    return;
  }
  const tableWrap = table(
    null,
    ["Deployment name", "Running in", "Slots ever"],
    first.items.map(nameCells),
    { class: "apps" },
  );
  ctx.root.append(
    tableWrap,
    loadMore(
      "Load more",
      first.next_cursor,
      (cursor) => getJson(["dashboard", "deployment-names"], { contains, limit: 100, cursor }),
      (items) => appendRows(tableWrap, items.map(nameCells)),
    ),
  );
}

export async function renderApp(ctx, name) {
  ctx.root.append(
    pageHeader(name, "This deployment in every environment and logical environment."),
  );
  const wait = loading("Loading…");
  ctx.root.append(wait);
  const [logicalEnvironments, active, unattested, recent] = await Promise.all([
    getAll(["logical-environments"]),
    getAll(["deployments"], { deployment_name: name }),
    getAllIfAvailable(["unattested"]),
    getJson(["deployments"], { deployment_name: name, history: true, limit: RECENT }),
  ]);
  const workloads = (unattested ? unattested.items : []).filter((w) => w.deployment_name === name);
  const counts = await attestedCounts(active.items.map((r) => r.artifact.digest));
  wait.remove();
  if (!active.items.length && !workloads.length && !recent.items.length) {
    ctx.root.append(note(`Nothing named ${name} was ever deployed.`));
    return;
  }
  const inUse = new Set([
    ...active.items.map((r) => r.logical_environment),
    ...workloads.map((w) => w.logical_environment),
  ]);
  const columns = logicalColumns(logicalEnvironments.items, inUse, "");
  const rows = new Map();
  for (const r of [...active.items, ...workloads]) {
    rows.set(slotKey(r.environment, r.kind), [r.environment, r.kind]);
  }
  const sorted = [...rows.values()].sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
  const kinds = new Set(sorted.map(([, kind]) => kind));
  if (sorted.length) {
    const repository = sharedRepository(active.items);
    ctx.root.append(
      repository ? el("p", { class: "summary" }, "Artifact: ", el("span", { class: "repository" }, breakable(repository))) : null,
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          { class: "matrix app-matrix" },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", { scope: "col" }, "Environment"),
              columns.map((c) => el("th", { scope: "col" }, c)),
            ),
          ),
          el(
            "tbody",
            {},
            sorted.map(([environment, kind]) =>
              el(
                "tr",
                {},
                el(
                  "th",
                  { scope: "row" },
                  link(routes.home({ environment }), environment),
                  kinds.size > 1 ? el("span", { class: "kind" }, kindLabel(kind)) : null,
                ),
                columns.map((logical) => {
                  const record = active.items.find(
                    (r) => r.environment === environment && r.kind === kind && r.logical_environment === logical,
                  );
                  const here = workloads.filter(
                    (w) => w.environment === environment && w.kind === kind && w.logical_environment === logical,
                  );
                  return el(
                    "td",
                    {
                      "data-slot": `${environment}/${logical}/${name}/${kind}`,
                      "data-label": logical,
                      class: record ? null : "empty",
                    },
                    slotContent(record, here, { counts, repository }),
                  );
                }),
              ),
            ),
          ),
        ),
      ),
    );
  } else {
    ctx.root.append(note(`${name} runs nowhere now.`));
  }
  ctx.root.append(
    section(
      "Recent history",
      recent.items.length ? recordsTable(`The last ${RECENT} records, newest first`, recent.items) : note("No records."),
      el("p", {}, link(routes.history({ deployment_name: name }), `All the history of ${name}`)),
    ),
  );
}
