// Diff: two logical environments side by side within each environment (or two
// environments within one logical environment), with how far the `to` side is behind,
// most behind first (the API's order).

import { getAll, getJsonIfAvailable } from "./api.js";
import {
  breakable,
  filterForm,
  flag,
  loading,
  note,
  pageHeader,
  time,
  unavailable,
} from "./components.js";
import { dash, el, link, table } from "./dom.js";
import { artifactLabel, kindLabel, plural, shortDigest } from "./format.js";
import { routes } from "./router.js";
import { allLogical, promotionOrder } from "./slots.js";

function side(record) {
  if (!record) {
    return dash();
  }
  return el(
    "span",
    { class: "artifact" },
    link(routes.record(record.id), artifactLabel(record.artifact), {
      class: "slot-version",
      title: record.artifact.digest,
    }),
    el("span", { class: "digest muted" }, shortDigest(record.artifact.digest)),
  );
}

/** The `behind` badge: how many newer digests the `from` side ran that `to` lacks. */
function behindBadge(row, fromName, toName) {
  switch (row.state) {
    case "same":
      return flag("behind", "up to date", "good");
    case "only_from":
      return flag("behind", `not in ${toName}`, "neutral", `Runs in ${fromName} only`);
    case "only_to":
      return flag("behind", `only in ${toName}`, "neutral", `Does not run in ${fromName}`);
    default:
      if (row.behind === null || row.behind === undefined) {
        return flag(
          "behind",
          `never in ${fromName}`,
          "bad",
          `${toName} runs a digest ${fromName} never ran`,
        );
      }
      return flag(
        "behind",
        `${row.behind} behind`,
        row.behind > 0 ? "warn" : "neutral",
        `${fromName} deployed ${plural(row.behind, "newer digest")} since it ran what ${toName} runs`,
      );
  }
}

const STATES = {
  same: "same",
  different: "different",
  only_from: "only on one side",
  only_to: "only on one side",
};

export async function renderDiff(ctx) {
  const byEnvironment = Boolean(ctx.params.get("from_env") || ctx.params.get("to_env"));
  ctx.root.append(
    pageHeader(
      "Diff",
      "What differs between two stages (or two environments), and how far behind the later one is.",
    ),
  );
  const wait = loading("Comparing…");
  ctx.root.append(wait);
  const [environments, logicalEnvironments] = await Promise.all([
    getAll(["environments"]),
    getAll(["logical-environments"]),
  ]);
  const logicalNames = allLogical(logicalEnvironments.items);
  const envNames = environments.items.map((e) => e.name);
  const ordered = promotionOrder(logicalEnvironments.items);

  let query;
  let fromName;
  let toName;
  let fields;
  if (byEnvironment) {
    query = {
      from_env: ctx.params.get("from_env") || "",
      to_env: ctx.params.get("to_env") || "",
      logical_environment: ctx.params.get("logical_environment") || ordered.at(-1) || "",
    };
    fromName = query.from_env;
    toName = query.to_env;
    fields = [
      { name: "from_env", label: "From environment", value: query.from_env, any: "Choose…", options: envNames },
      { name: "to_env", label: "To environment", value: query.to_env, any: "Choose…", options: envNames },
      {
        name: "logical_environment",
        label: "Logical environment",
        value: query.logical_environment,
        any: "Choose…",
        options: logicalNames,
      },
    ];
  } else {
    query = {
      from: ctx.params.get("from") || ordered.at(-2) || "",
      to: ctx.params.get("to") || ordered.at(-1) || "",
      environment: ctx.params.get("environment") || "",
    };
    fromName = query.from;
    toName = query.to;
    fields = [
      { name: "from", label: "From", value: query.from, any: "Choose…", options: logicalNames },
      { name: "to", label: "To", value: query.to, any: "Choose…", options: logicalNames },
      {
        name: "environment",
        label: "Environment",
        value: query.environment,
        any: "All environments",
        options: envNames,
      },
    ];
  }
  ctx.root.append(
    el(
      "p",
      { class: "mode" },
      byEnvironment
        ? link(routes.diff(), "Compare two logical environments instead")
        : link(
            routes.diff({ from_env: envNames[0], to_env: envNames[1] ?? envNames[0] }),
            "Compare two environments instead",
          ),
    ),
    filterForm("Choose what to compare", fields, routes.diff(), (values) =>
      ctx.navigate(routes.diff(values)),
    ),
  );
  const ready = byEnvironment ? query.from_env && query.to_env && query.logical_environment : query.from && query.to;
  if (!ready) {
    wait.remove();
    ctx.root.append(note("Choose both sides to compare."));
    return;
  }
  const answer = await getJsonIfAvailable(["diff"], query);
  wait.remove();
  if (answer === null) {
    ctx.root.append(unavailable("The environment diff"));
    return;
  }
  const rows = answer.items;
  if (!rows.length) {
    ctx.root.append(note(`Nothing runs in ${fromName} or ${toName}.`));
    return;
  }
  const behind = rows.filter((r) => r.state === "different" && r.behind > 0).length;
  const never = rows.filter((r) => r.state === "different" && r.behind === null).length;
  const same = rows.filter((r) => r.state === "same").length;
  ctx.root.append(
    el(
      "p",
      { class: "summary" },
      `${plural(rows.length, "deployment")} compared: ${same} up to date, ${behind} behind`,
      never ? `, ${never} running in ${toName} what ${fromName} never ran` : "",
      ".",
    ),
  );
  const columns = [
    ...(byEnvironment ? [] : ["Environment"]),
    "Deployment",
    fromName,
    toName,
    "Behind",
    "State",
    `${toName} changed`,
  ];
  ctx.root.append(
    table(
      `${fromName} → ${toName}, most behind first`,
      columns,
      rows.map((row) => [
        ...(byEnvironment ? [] : [row.environment]),
        el(
          "span",
          {},
          link(routes.app(row.deployment_name), breakable(row.deployment_name)),
          el("span", { class: "kind" }, kindLabel(row.kind)),
        ),
        side(row.from),
        side(row.to),
        behindBadge(row, fromName, toName),
        STATES[row.state] ?? row.state,
        row.since ? time(row.since, true) : dash(),
      ]),
      { class: "diff" },
    ),
  );
}
