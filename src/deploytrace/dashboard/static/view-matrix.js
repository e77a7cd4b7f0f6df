// Home: what runs where. One table per environment, deployment (name + kind) × logical
// environment in promotion order; each cell the slot's active record with how well it is
// attested, whether it is stale, skipped a stage or broke a policy, and, in red, what
// runs there without evidence. Live views refresh themselves; `?at=` shows an instant.

import { getAll, getAllIfAvailable, getJsonIfAvailable } from "./api.js";
import {
  breakable,
  errorText,
  filterForm,
  loading,
  note,
  pageHeader,
  section,
  time,
} from "./components.js";
import { el, link, table } from "./dom.js";
import { isoSeconds, kindLabel, parseInstant, plural, shortDigest, utc } from "./format.js";
import { routes } from "./router.js";
import {
  allLogical,
  attestedCounts,
  logicalColumns,
  sharedRepository,
  slotContent,
  slotKey,
  unattestedReason,
} from "./slots.js";
import { timeTravel } from "./time-travel.js";

export const REFRESH_SECONDS = 30;

async function fetchMatrix(filters, at) {
  const query = { ...filters, at: at ? isoSeconds(at) : null };
  const [environments, logicalEnvironments, records, unattested] = await Promise.all([
    getAll(["environments"]),
    getAll(["logical-environments"]),
    getAll(["deployments"], query),
    // What runs without evidence is only known for now, from the last snapshots.
    at ? null : getAllIfAvailable(["unattested"], filters),
  ]);
  const counts = await attestedCounts(records.items.map((r) => r.artifact.digest));
  return { environments, logicalEnvironments, records, unattested, counts };
}

function rowHeader(name, kind, repository) {
  return el(
    "th",
    { scope: "row" },
    link(routes.app(name), breakable(name), {
      class: "deployment-name",
      title: `${name} in every environment`,
    }),
    el("span", { class: "kind" }, kindLabel(kind)),
    repository ? el("span", { class: "artifact-name repository" }, breakable(repository)) : null,
  );
}

function environmentTable(environment, description, records, workloads, columns, options) {
  const headingId = `env-${environment}`;
  const bySlot = new Map(
    records.map((r) => [slotKey(r.deployment_name, r.kind, r.logical_environment), r]),
  );
  const unattestedBySlot = new Map();
  for (const w of workloads) {
    const key = slotKey(w.deployment_name, w.kind, w.logical_environment);
    unattestedBySlot.set(key, [...(unattestedBySlot.get(key) || []), w]);
  }
  const deployments = new Map();
  for (const r of [...records, ...workloads]) {
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
      note(options.past ? "Nothing was deployed here then." : "Nothing is deployed here."),
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
    rows.map(([name, kind]) => {
      const rowRecords = records.filter((r) => r.deployment_name === name && r.kind === kind);
      const repository = sharedRepository(rowRecords);
      return el(
        "tr",
        {},
        rowHeader(name, kind, repository),
        columns.map((logical) => {
          const key = slotKey(name, kind, logical);
          const record = bySlot.get(key);
          const unattested = unattestedBySlot.get(key) || [];
          const classes = [
            record ? null : "empty",
            unattested.length ? "has-unattested" : null,
            record && record.stale && !options.past ? "has-stale" : null,
          ].filter(Boolean);
          return el(
            "td",
            {
              "data-slot": `${environment}/${logical}/${name}/${kind}`,
              "data-label": logical,
              class: classes.length ? classes.join(" ") : null,
            },
            slotContent(record, unattested, { ...options, repository }),
          );
        }),
      );
    }),
  );
  return el(
    "section",
    { class: "env", "aria-labelledby": headingId },
    heading,
    el("div", { class: "table-wrap" }, el("table", { class: "matrix" }, head, body)),
  );
}

function unattestedSection(workloads) {
  const box = section(
    `Running without evidence (${workloads.length})`,
    el(
      "p",
      {},
      "Reporters saw these workloads running, but no attestation in this organization names " +
        "their digest, so they were not recorded. Attest them, or find out why they run.",
    ),
    table(
      null,
      ["Environment", "Logical environment", "Deployment", "Artifact", "Digest", "Why", "Last seen"],
      workloads.map((w) => [
        w.environment,
        w.logical_environment,
        el("span", {}, breakable(w.deployment_name), el("span", { class: "kind" }, kindLabel(w.kind))),
        el(
          "span",
          { class: "artifact" },
          w.artifact_version || "—",
          w.artifact_name ? el("span", { class: "artifact-name" }, breakable(w.artifact_name)) : null,
        ),
        w.digest ? el("span", { class: "digest", title: w.digest }, shortDigest(w.digest)) : "—",
        unattestedReason(w),
        time(w.last_seen_at, true),
      ]),
      { class: "unattested" },
    ),
  );
  box.classList.add("alert-unattested");
  return box;
}

function summary(data, at) {
  const records = data.records.items;
  const envCount = new Set(records.map((r) => r.environment)).size;
  const parts = [
    `${plural(records.length, "deployment")} ${at ? "ran" : "running"} in ${plural(envCount, "environment")}`,
  ];
  const count = (test) => records.filter(test).length;
  const stale = at ? 0 : count((r) => r.stale);
  const skipped = count((r) => r.promotion);
  const violated = count((r) => r.policy && (r.policy.status === "violated" || r.policy.override));
  const unattested = data.unattested ? data.unattested.items.length : 0;
  const flags = [
    unattested ? [`${unattested} running without evidence`, "bad"] : null,
    stale ? [`${stale} stale`, "warn"] : null,
    skipped ? [`${skipped} skipped a stage`, "warn"] : null,
    violated ? [`${plural(violated, "policy violation")}`, "bad"] : null,
  ].filter(Boolean);
  return el(
    "p",
    { class: "summary", "data-summary": "" },
    parts.join(""),
    flags.length ? ": " : ".",
    flags.map(([text, tone], i) => [
      i ? ", " : "",
      el("span", { class: `summary-${tone}` }, text),
    ]),
    flags.length ? "." : "",
  );
}

function content(data, filters, at) {
  const nodes = [summary(data, at)];
  if (data.records.truncated) {
    nodes.push(note("Showing the first records only; filter by environment to see the rest."));
  }
  const workloads = data.unattested ? data.unattested.items : [];
  if (workloads.length) {
    nodes.push(unattestedSection(workloads));
  }
  const { environments, logicalEnvironments, records } = data;
  const envNames = filters.environment
    ? [filters.environment]
    : [
        ...new Set([
          ...environments.items.map((e) => e.name),
          ...records.items.map((r) => r.environment),
          ...workloads.map((w) => w.environment),
        ]),
      ].sort();
  if (!envNames.length) {
    nodes.push(
      note(
        "No environments yet. Create one with ",
        el("code", {}, "deploytrace environment create"),
        ".",
      ),
    );
    return nodes;
  }
  const descriptions = new Map(environments.items.map((e) => [e.name, e.description]));
  const inUse = new Set([
    ...records.items.map((r) => r.logical_environment),
    ...workloads.map((w) => w.logical_environment),
  ]);
  const columns = logicalColumns(logicalEnvironments.items, inUse, filters.logical_environment);
  const options = { counts: data.counts, past: Boolean(at) };
  for (const name of envNames) {
    nodes.push(
      environmentTable(
        name,
        descriptions.get(name),
        records.items.filter((r) => r.environment === name),
        workloads.filter((w) => w.environment === name),
        columns,
        options,
      ),
    );
  }
  return nodes;
}

/** "Auto-refresh every 30 s" (on by default), paused while the tab is hidden. */
function autoRefresh(ctx, reload) {
  const box = el("input", { type: "checkbox", id: "auto-refresh", checked: true });
  const control = el(
    "span",
    { class: "auto-refresh" },
    box,
    el("label", { for: "auto-refresh" }, `Auto-refresh every ${REFRESH_SECONDS} s`),
  );
  let due = false;
  const tick = () => {
    if (!box.checked) {
      return;
    }
    if (document.hidden) {
      due = true; // catch up as soon as the tab is looked at again
      return;
    }
    reload();
  };
  const onVisibility = () => {
    if (!document.hidden && due && box.checked) {
      due = false;
      reload();
    }
  };
  const timer = setInterval(tick, REFRESH_SECONDS * 1000);
  document.addEventListener("visibilitychange", onVisibility);
  ctx.signal.addEventListener("abort", () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  });
  return control;
}

export async function renderMatrix(ctx) {
  const filters = {
    environment: ctx.params.get("environment") || "",
    logical_environment: ctx.params.get("logical_environment") || "",
  };
  const atText = ctx.params.get("at") || "";
  const at = atText ? parseInstant(atText) : null;
  ctx.root.append(
    pageHeader(
      at ? "What ran where" : "What runs where",
      at
        ? `The artifact each deployment ran at ${utc(at.toISOString())}.`
        : "The artifact each deployment runs now, per environment and logical environment.",
    ),
  );
  if (atText && !at) {
    ctx.root.append(
      el("p", { class: "error", role: "alert" }, `“${atText}” is not an instant; showing now.`),
    );
  }
  const wait = loading("Loading deployments…");
  ctx.root.append(wait);
  const [data, timeline] = await Promise.all([
    fetchMatrix(filters, at),
    getJsonIfAvailable(["dashboard", "timeline"]),
  ]);
  wait.remove();

  const go = (params) => ctx.navigate(routes.home(params));
  ctx.root.append(
    filterForm(
      "Filter what runs where",
      [
        {
          name: "environment",
          label: "Environment",
          value: filters.environment,
          any: "All environments",
          options: data.environments.items.map((e) => e.name),
        },
        {
          name: "logical_environment",
          label: "Logical environment",
          value: filters.logical_environment,
          any: "All logical environments",
          options: allLogical(data.logicalEnvironments.items),
        },
      ],
      routes.home({ at: at ? isoSeconds(at) : null }),
      (values) => go({ ...values, at: at ? isoSeconds(at) : null }),
    ),
    timeTravel({
      first: timeline && timeline.first_record_at ? new Date(timeline.first_record_at) : null,
      at,
      nowHref: routes.home(filters),
      onGo: (date) => go({ ...filters, at: date ? isoSeconds(date) : null }),
    }),
  );
  if (at) {
    ctx.root.append(
      el(
        "p",
        { class: "time-travel-note", role: "status" },
        `Time travel: this is ${utc(at.toISOString())}. Stale marks and workloads running ` +
          "without evidence are only known for now. ",
        link(routes.home(filters), "Back to now"),
      ),
    );
  }

  const body = el("div", { class: "matrix-body" }, content(data, filters, at));
  const updated = el("span", { class: "muted updated", role: "status" });
  const stamp = () => {
    updated.textContent = `Updated ${utc(new Date().toISOString())}.`;
  };
  stamp();
  let busy = false;
  const reload = async () => {
    if (busy) {
      return;
    }
    busy = true;
    try {
      const fresh = await fetchMatrix(filters, at);
      if (!ctx.signal.aborted) {
        body.replaceChildren(...content(fresh, filters, at));
        stamp();
      }
    } catch (error) {
      if (!error.handled && !ctx.signal.aborted) {
        updated.textContent = `Could not refresh: ${errorText(error)}`;
      }
    } finally {
      busy = false;
    }
  };
  const refreshButton = el("button", { type: "button", class: "quiet", onclick: reload }, "Refresh");
  ctx.root.append(
    el(
      "div",
      { class: "refresh-bar" },
      updated,
      " ",
      at ? null : refreshButton,
      at ? null : autoRefresh(ctx, reload),
    ),
    body,
  );
}
