// Search: one box for deployment names, versions, digest prefixes (GET
// /v1/dashboard/lookup), and for packages and vulnerabilities (GET /v1/search, answered
// like `deploytrace artifact search`: the artifacts that match, what matched, the
// attestation that says so, and where they run now, at an instant, or ever).

import { getJson, getJsonIfAvailable } from "./api.js";
import {
  digestLink,
  flag,
  loadMore,
  loading,
  note,
  pageHeader,
  recordsTable,
  section,
} from "./components.js";
import { dash, el, link, table } from "./dom.js";
import { artifactLabel, isoSeconds, parseInstant, plural } from "./format.js";
import { routes } from "./router.js";

const VULNERABILITY_ID = /^(CVE|GHSA|GO|PYSEC|RUSTSEC|OSV|DSA|USN|RHSA|ALAS)-/i;
const SEVERITY_TONES = { critical: "bad", high: "bad", medium: "warn", low: "neutral" };
const ADVANCED = ["purl", "cve", "component"];

function matchCells(m) {
  const severity = m.severity ? String(m.severity).toLowerCase() : null;
  return [
    el(
      "span",
      { class: "break" },
      m.name || "—",
      m.version ? el("span", { class: "muted" }, ` ${m.version}`) : null,
    ),
    m.purl ? el("code", { class: "break" }, m.purl) : dash(),
    m.vulnerability ? el("span", { class: "break" }, m.vulnerability) : dash(),
    severity ? flag("severity", severity, SEVERITY_TONES[severity] ?? "neutral") : dash(),
    m.suppression
      ? flag(
          "suppressed",
          `VEX: ${m.suppression.status}`,
          "neutral",
          `${m.suppression.verification} VEX statement ${m.suppression.attestation}`,
        )
      : dash(),
    digestLink(m.attestation, routes.attestation(m.attestation)),
  ];
}

function hit(h, when) {
  const title = el(
    "h3",
    {},
    link(routes.artifact(h.artifact.digest), artifactLabel(h.artifact), {
      title: h.artifact.digest,
    }),
    h.artifact.name ? el("span", { class: "artifact-name" }, h.artifact.name) : null,
    h.suppressed ? flag("suppressed", "suppressed by VEX", "neutral") : null,
  );
  return el(
    "article",
    { class: "hit", "data-digest": h.artifact.digest },
    title,
    table(
      "What matched, and the attestation that says so",
      ["Component", "Package URL", "Vulnerability", "Severity", "VEX", "Attestation"],
      h.matches.map(matchCells),
      { class: "matches" },
    ),
    h.records.length
      ? recordsTable(`Where it ${when}`, h.records)
      : note(`It ${when === "runs now" ? "runs nowhere now" : "ran nowhere then"}.`),
  );
}

function vulnerabilityParams(params) {
  const found = {};
  for (const key of [...ADVANCED, "version_range", "at"]) {
    const value = (params.get(key) || "").trim();
    if (value) {
      found[key] = value;
    }
  }
  for (const key of ["history", "all", "include_suppressed"]) {
    if (params.get(key) === "true") {
      found[key] = true;
    }
  }
  return found;
}

/** The search a single text means: a CVE id, a purl, or a component name. */
function fromText(text) {
  if (VULNERABILITY_ID.test(text)) {
    return { cve: text };
  }
  if (text.startsWith("pkg:")) {
    return { purl: text };
  }
  return { component: text };
}

async function vulnerabilitySection(query, standalone) {
  const when = query.history ? "ran, ever" : query.at ? `ran at ${query.at}` : "runs now";
  const first = await getJsonIfAvailable(["search"], query);
  if (first === null) {
    return standalone
      ? section(
          "Packages and vulnerabilities",
          note("This server does not index SBOMs and scans yet (it comes with a newer server)."),
        )
      : null;
  }
  const what = query.cve ?? query.purl ?? query.component;
  if (!first.items.length) {
    if (!standalone) {
      return null;
    }
    return section(
      "Packages and vulnerabilities",
      note(
        `No ${query.all ? "" : "deployed "}artifact contains ${what}`,
        query.all ? "." : " (search all artifacts to include those deployed nowhere).",
      ),
    );
  }
  const list = el(
    "div",
    { class: "hits" },
    first.items.map((h) => hit(h, when)),
  );
  return section(
    `Artifacts with ${what}`,
    el(
      "p",
      { class: "summary" },
      `${plural(first.items.length, "artifact")}${first.next_cursor ? " (more below)" : ""}.`,
    ),
    list,
    loadMore(
      "Load more artifacts",
      first.next_cursor,
      (cursor) => getJson(["search"], { ...query, cursor }),
      (items) => list.append(...items.map((h) => hit(h, when))),
    ),
  );
}

function lookupSection(found) {
  const parts = [];
  if (found.deployment_names.length) {
    parts.push(
      section(
        "Deployments",
        el(
          "ul",
          { class: "plain names" },
          found.deployment_names.map((n) =>
            el(
              "li",
              {},
              link(routes.app(n.deployment_name), n.deployment_name),
              el("span", { class: "muted" }, ` running in ${plural(n.active, "slot")}`),
            ),
          ),
        ),
      ),
    );
  }
  if (found.records.length) {
    parts.push(section("Running versions and artifacts", recordsTable(null, found.records)));
  }
  if (found.digests.length) {
    parts.push(
      section(
        "Digests",
        el(
          "ul",
          { class: "plain" },
          found.digests.map((d) => el("li", {}, link(routes.artifact(d), d, { class: "digest" }))),
        ),
      ),
    );
  }
  return parts;
}

function advancedForm(values, navigate) {
  const field = (name, label, placeholder) =>
    el(
      "div",
      { class: "field" },
      el("label", { for: `search-${name}` }, label),
      el("input", {
        id: `search-${name}`,
        name,
        type: "search",
        value: values[name] || "",
        placeholder,
        autocomplete: "off",
        spellcheck: "false",
      }),
    );
  const check = (name, label) =>
    el(
      "div",
      { class: "field check" },
      el("input", { id: `search-${name}`, name, type: "checkbox", checked: Boolean(values[name]) }),
      el("label", { for: `search-${name}` }, label),
    );
  const problem = el("p", { class: "error", role: "alert" });
  const form = el(
    "form",
    { class: "filters", role: "search", "aria-label": "Packages and vulnerabilities", method: "post" },
    field("purl", "Package URL", "pkg:maven/org.apache.logging.log4j/log4j-core"),
    field("version_range", "Version range", "vers:maven/>=2.0.0|<2.15.0"),
    field("cve", "Vulnerability", "CVE-2021-44228"),
    field("component", "Component name", "log4j-core"),
    field("at", "At (UTC)", "2026-11-25T14:00:00Z"),
    check("history", "Ever (history)"),
    check("all", "Also artifacts deployed nowhere"),
    check("include_suppressed", "Include findings VEX suppresses"),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Search"), link(routes.search(), "Clear")),
    problem,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const chosen = {};
    for (const key of [...ADVANCED, "version_range", "at"]) {
      chosen[key] = String(data.get(key) || "").trim();
    }
    for (const key of ["history", "all", "include_suppressed"]) {
      chosen[key] = data.get(key) ? "true" : "";
    }
    if (!ADVANCED.some((key) => chosen[key])) {
      problem.textContent = "Give a package URL, a vulnerability or a component name.";
      return;
    }
    if (chosen.at) {
      const date = parseInstant(chosen.at);
      if (!date) {
        problem.textContent = `“${chosen.at}” is not an instant: write it like 2026-11-25T14:00:00Z.`;
        return;
      }
      chosen.at = isoSeconds(date);
    }
    navigate(routes.search(chosen));
  });
  return form;
}

export async function renderSearch(ctx) {
  const text = (ctx.params.get("q") || "").trim();
  const advanced = vulnerabilityParams(ctx.params);
  const isAdvanced = ADVANCED.some((key) => advanced[key]);
  ctx.root.append(
    pageHeader(
      text ? `Search: ${text}` : "Search",
      "Deployment names, versions, digest prefixes, packages and vulnerabilities.",
    ),
  );
  const details = el(
    "details",
    { class: "advanced", open: isAdvanced || !text },
    el("summary", {}, "Search by package or vulnerability"),
    advancedForm(advanced, ctx.navigate),
  );
  ctx.root.append(details);
  if (!text && !isAdvanced) {
    ctx.root.append(note("Type in the search box above, or search by package or vulnerability."));
    return;
  }
  const wait = loading("Searching…");
  ctx.root.append(wait);
  if (isAdvanced) {
    const found = await vulnerabilitySection(advanced, true);
    wait.remove();
    ctx.root.append(found);
    return;
  }
  const [found, vulnerable] = await Promise.all([
    getJson(["dashboard", "lookup"], { q: text }),
    vulnerabilitySection(fromText(text), VULNERABILITY_ID.test(text) || text.startsWith("pkg:")),
  ]);
  wait.remove();
  const parts = [...lookupSection(found), vulnerable].filter(Boolean);
  ctx.root.append(...(parts.length ? parts : [note(`Nothing matches “${text}”.`)]));
}
