// Environments and logical environments, each linked to what runs there and its history.

import { getAll } from "./api.js";
import { loading, note, pageHeader, section, time } from "./components.js";
import { dash, el, link, table } from "./dom.js";
import { routes } from "./router.js";

function environmentsTable(items, filterName) {
  if (!items.length) {
    return note("None yet.");
  }
  return table(
    null,
    ["Name", "Description", "Created", "Updated", ""],
    items.map((e) => [
      link(routes.home({ [filterName]: e.name }), e.name, { title: "What runs there" }),
      e.description ? el("span", { class: "break" }, e.description) : dash(),
      time(e.created_at),
      time(e.updated_at),
      link(routes.history({ [filterName]: e.name }), "History"),
    ]),
  );
}

export async function renderEnvironments(ctx) {
  ctx.root.append(
    pageHeader(
      "Environments",
      "Environments are where things run (a cluster, a region); " +
        "logical environments are the stage (development, staging, production).",
    ),
  );
  const wait = loading("Loading environments…");
  ctx.root.append(wait);
  const [environments, logicalEnvironments] = await Promise.all([
    getAll(["environments"]),
    getAll(["logical-environments"]),
  ]);
  wait.remove();
  ctx.root.append(
    section("Environments", environmentsTable(environments.items, "environment")),
    section(
      "Logical environments",
      environmentsTable(logicalEnvironments.items, "logical_environment"),
    ),
  );
}
