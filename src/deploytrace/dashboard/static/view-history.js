// History: every deployment record (active, superseded, decommissioned), newest first,
// one page at a time.

import { getAll, getJson } from "./api.js";
import {
  appendRows,
  filterForm,
  loadMore,
  loading,
  note,
  pageHeader,
  recordCells,
  recordsTable,
} from "./components.js";
import { el } from "./dom.js";
import { routes } from "./router.js";

const DEFAULT_PAGE_SIZE = 50;

function pageSize(params) {
  const value = Number.parseInt(params.get("limit") || "", 10);
  return value >= 1 && value <= 500 ? value : DEFAULT_PAGE_SIZE;
}

export async function renderHistory(ctx) {
  const filters = {
    environment: ctx.params.get("environment") || "",
    logical_environment: ctx.params.get("logical_environment") || "",
    deployment_name: ctx.params.get("deployment_name") || "",
  };
  const limit = pageSize(ctx.params);
  // Keep a non-default page size across filter changes (it is part of the route).
  const keptLimit = limit === DEFAULT_PAGE_SIZE ? undefined : limit;
  ctx.root.append(
    pageHeader("History", "Every deployment record, newest first: what ran where, and until when."),
  );
  const wait = loading("Loading history…");
  ctx.root.append(wait);
  const query = { ...filters, history: true, limit };
  const [environments, logicalEnvironments, first] = await Promise.all([
    getAll(["environments"]),
    getAll(["logical-environments"]),
    getJson(["deployments"], query),
  ]);
  wait.remove();

  ctx.root.append(
    filterForm(
      "Filter history",
      [
        {
          name: "environment",
          label: "Environment",
          value: filters.environment,
          any: "All environments",
          options: environments.items.map((e) => e.name),
        },
        {
          name: "logical_environment",
          label: "Logical environment",
          value: filters.logical_environment,
          any: "All logical environments",
          options: logicalEnvironments.items.map((e) => e.name),
        },
        {
          name: "deployment_name",
          label: "Deployment name",
          value: filters.deployment_name,
          placeholder: "e.g. api-server",
        },
      ],
      routes.history({ limit: keptLimit }),
      (values) => ctx.navigate(routes.history({ ...values, limit: keptLimit })),
    ),
  );

  if (!first.items.length) {
    ctx.root.append(note("No deployment records match."));
    return;
  }
  let shown = first.items.length;
  const count = el("p", { class: "summary", "aria-live": "polite" });
  const showCount = () => {
    count.textContent = `Showing ${shown} record${shown === 1 ? "" : "s"}.`;
  };
  showCount();
  const records = recordsTable("Deployment records, newest first", first.items);
  ctx.root.append(
    count,
    records,
    loadMore(
      "Load more",
      first.next_cursor,
      (cursor) => getJson(["deployments"], { ...query, cursor }),
      (items) => {
        appendRows(records, items.map(recordCells));
        shown += items.length;
        showCount();
      },
    ),
  );
}
