// Hash routes ("#/history?environment=prod"): the page is static, so the route and its
// filters live after the "#", which keeps views linkable and never reaches the server.

/** { segments: ["artifacts", "sha256:…"], params: URLSearchParams } or null if malformed. */
export function parseHash(hash) {
  const raw = hash.startsWith("#") ? hash.slice(1) : hash;
  const question = raw.indexOf("?");
  const path = question < 0 ? raw : raw.slice(0, question);
  const query = question < 0 ? "" : raw.slice(question + 1);
  try {
    const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
    return { segments, params: new URLSearchParams(query) };
  } catch {
    return null;
  }
}

/** "#/history?environment=prod" from ["history"], {environment: "prod"}; empty values dropped. */
export function route(segments, params = {}) {
  const path = segments.map((s) => encodeURIComponent(s).replace(/%3A/gi, ":")).join("/");
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") {
      query.set(key, String(value));
    }
  }
  // ":" needs no escaping after "#": keep times and digests readable in shared links.
  const text = query.toString().replace(/%3A/gi, ":");
  return `#/${path}${text ? `?${text}` : ""}`;
}

export const routes = {
  home: (params) => route([], params),
  history: (params) => route(["history"], params),
  record: (id) => route(["deployments", id]),
  artifact: (digest) => route(["artifacts", digest]),
  attestations: (params) => route(["attestations"], params),
  attestation: (digest) => route(["attestations", digest]),
  environments: () => route(["environments"]),
  apps: (params) => route(["apps"], params),
  app: (name) => route(["apps", name]),
  diff: (params) => route(["diff"], params),
  dora: (params) => route(["dora"], params),
  search: (params) => route(["search"], params),
  audit: (params) => route(["audit"], params),
};
