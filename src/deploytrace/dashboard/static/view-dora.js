// DORA: the four figures per logical environment (GET /v1/metrics/dora), and for the one
// chosen, small charts per day (or week): deployments (failed ones marked) and lead time
// (median with the 90th percentile). Every number is the API's own: a chart's bar is the
// same call over that period, so the charts never disagree with the CLI.

import { getAll, getJson, getJsonIfAvailable } from "./api.js";
import { filterForm, loading, note, pageHeader, section, unavailable } from "./components.js";
import { definitions, el, link } from "./dom.js";
import { duration, isoSeconds, plural, utc } from "./format.js";
import { barChart, rangeChart } from "./charts.js";
import { routes } from "./router.js";
import { allLogical, promotionOrder } from "./slots.js";

const WINDOWS = { "7d": 7, "30d": 30, "90d": 90 };
const DAY = 24 * 60 * 60 * 1000;
// Period requests in flight at once: the charts need one call per period.
const PARALLEL = 4;

function percent(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 1000) / 10}%`;
}

function seconds(value) {
  return value === null || value === undefined ? "—" : duration(value);
}

function perDay(value) {
  return `${Math.round(value * 100) / 100} / day`;
}

function figures(dora) {
  return definitions([
    ["Deployments", String(dora.deployments)],
    ["Deployment frequency", perDay(dora.deployment_frequency_per_day)],
    [
      "Lead time for changes",
      `${seconds(dora.lead_time_seconds.p50)} median, ${seconds(dora.lead_time_seconds.p90)} p90`,
    ],
    ["Change failure rate", percent(dora.change_failure_rate)],
    [
      "Time to restore",
      `${seconds(dora.time_to_restore_seconds.p50)} median, ${seconds(dora.time_to_restore_seconds.p90)} p90`,
    ],
    ["Window", `${utc(dora.window.from)} – ${utc(dora.window.to)}`],
  ]);
}

function card(name, dora, href, selected) {
  return el(
    "a",
    {
      class: selected ? "dora-card selected" : "dora-card",
      href,
      "aria-current": selected ? "true" : null,
      "data-logical-environment": name,
    },
    el("span", { class: "dora-card-title" }, name),
    el("span", { class: "dora-card-figure" }, String(dora.deployments)),
    el("span", { class: "muted" }, "deployments"),
    el("span", {}, perDay(dora.deployment_frequency_per_day)),
    el("span", {}, `lead ${seconds(dora.lead_time_seconds.p50)}`),
    el("span", {}, `failures ${percent(dora.change_failure_rate)}`),
  );
}

/** [start, end) periods covering the window: UTC days, or weeks beyond a month. */
function periods(from, to) {
  const days = (to - from) / DAY;
  const size = days > 31 ? 7 * DAY : DAY;
  const first = Math.floor(from / DAY) * DAY;
  const found = [];
  for (let start = first; start < to; start += size) {
    const begin = Math.max(start, from);
    const end = Math.min(start + size, to);
    if (end > begin) {
      found.push({ from: begin, to: end, label: new Date(start).toISOString().slice(5, 10) });
    }
  }
  return { found, unit: size === DAY ? "day" : "week" };
}

/** `work` on every item, PARALLEL at a time; stops early once the view is left. */
async function inBatches(items, work, signal) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal.aborted) {
      const i = next;
      next += 1;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return results;
}

export async function renderDora(ctx) {
  const filters = {
    environment: ctx.params.get("environment") || "",
    deployment_name: ctx.params.get("deployment_name") || "",
    since: Object.hasOwn(WINDOWS, ctx.params.get("since") || "") ? ctx.params.get("since") : "30d",
    failure_window: ctx.params.get("failure_window") || "",
  };
  ctx.root.append(
    pageHeader(
      "DORA metrics",
      "How often each stage gets deployments, how fast a change reaches it, how often a " +
        "deployment fails (rolled back or decommissioned within the failure window), and how " +
        "fast it is restored.",
    ),
  );
  const wait = loading("Computing…");
  ctx.root.append(wait);
  const [environments, logicalEnvironments] = await Promise.all([
    getAll(["environments"]),
    getAll(["logical-environments"]),
  ]);
  const names = allLogical(logicalEnvironments.items);
  const selected = names.includes(ctx.params.get("logical_environment"))
    ? ctx.params.get("logical_environment")
    : promotionOrder(logicalEnvironments.items).at(-1) || names[0];
  const query = (logical) => ({ ...filters, logical_environment: logical });
  const first = await getJsonIfAvailable(["metrics", "dora"], query(selected));
  if (first === null) {
    wait.remove();
    ctx.root.append(unavailable("DORA metrics"));
    return;
  }
  const others = await Promise.all(
    names.map((n) => (n === selected ? first : getJson(["metrics", "dora"], query(n)))),
  );
  wait.remove();

  const keep = { ...filters, logical_environment: selected };
  ctx.root.append(
    filterForm(
      "Choose the window",
      [
        {
          name: "environment",
          label: "Environment",
          value: filters.environment,
          any: "All environments",
          options: environments.items.map((e) => e.name),
        },
        {
          name: "deployment_name",
          label: "Deployment name",
          value: filters.deployment_name,
          placeholder: "all",
        },
        {
          name: "since",
          label: "Window",
          value: filters.since,
          any: "Last 30 days",
          options: Object.keys(WINDOWS),
        },
        {
          name: "failure_window",
          label: "Failure window",
          value: filters.failure_window,
          placeholder: "24h",
        },
      ],
      routes.dora({ logical_environment: selected }),
      (values) => ctx.navigate(routes.dora({ ...values, logical_environment: selected })),
    ),
    el(
      "nav",
      { class: "dora-cards", "aria-label": "Logical environments" },
      names.map((n, i) =>
        card(n, others[i], routes.dora({ ...keep, logical_environment: n }), n === selected),
      ),
    ),
  );

  const panel = section(`${selected}`, figures(first));
  panel.classList.add("dora-panel");
  ctx.root.append(panel);
  if (!first.deployments) {
    panel.append(note(`No deployment was recorded in ${selected} in this window.`));
    return;
  }
  const from = new Date(first.window.from).getTime();
  const to = new Date(first.window.to).getTime();
  const { found, unit } = periods(from, to);
  const chartsWait = loading("Drawing the charts…");
  panel.append(chartsWait);
  const perPeriod = await inBatches(
    found,
    (p) =>
      getJson(["metrics", "dora"], {
        ...query(selected),
        since: isoSeconds(new Date(p.from)),
        until: isoSeconds(new Date(p.to)),
      }),
    ctx.signal,
  );
  if (ctx.signal.aborted) {
    return;
  }
  chartsWait.remove();
  const labels = found.map((p) => p.label);
  panel.append(
    el(
      "div",
      { class: "charts" },
      barChart({
        caption: `Deployments per ${unit} (failed ones in red)`,
        labels,
        values: perPeriod.map((d) => d.deployments),
        highlight: perPeriod.map((d) => Math.round((d.change_failure_rate || 0) * d.deployments)),
        legend: "failed",
      }),
      rangeChart({
        caption: `Lead time per ${unit}: median, with the 90th percentile`,
        labels,
        p50: perPeriod.map((d) => d.lead_time_seconds.p50),
        p90: perPeriod.map((d) => d.lead_time_seconds.p90),
        format: (v) => duration(v) || "0s",
      }),
    ),
    el(
      "p",
      { class: "muted" },
      `${plural(first.deployments, "deployment")} in ${selected}; see them in `,
      link(routes.history({ logical_environment: selected, environment: filters.environment }), "History"),
      ".",
    ),
  );
}
