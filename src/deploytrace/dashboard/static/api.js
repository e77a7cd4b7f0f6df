// The only place that talks to the server: GET requests to the /v1 API with the bearer
// token, JSON errors turned into ApiError. The dashboard is read-only; its one other
// request is the POST that trades the one-time code of `deploytrace ui`'s sign-in link
// for a token (exchangeSignInCode).

const TOKEN_KEY = "deploytrace.token";
// Follow at most this many pages when a view needs a whole list (e.g. the matrix).
const MAX_PAGES = 40;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    // Set when the sign-in form has already taken over the page (a 401).
    this.handled = false;
  }
}

/** A 404 for a route the server does not have (an older server), not a missing thing. */
export function isMissingEndpoint(error) {
  return Boolean(error) && error.status === 404 && error.message === "Not Found";
}

let onUnauthenticated = () => {};

/** Called with the server's message whenever the token is refused. */
export function setUnauthenticatedHandler(handler) {
  onUnauthenticated = handler;
}

// sessionStorage: the token lives as long as the tab and never reaches a URL or a cookie.
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function apiUrl(segments, params) {
  const path = segments.map(encodeURIComponent).join("/");
  // Relative to the page, so the dashboard also works behind a path-prefixing proxy.
  const url = new URL(`v1/${path}`, document.baseURI);
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "" || value === false) {
      continue;
    }
    // An array repeats the parameter (?digest=a&digest=b).
    for (const one of Array.isArray(value) ? value : [value]) {
      url.searchParams.append(key, String(one));
    }
  }
  return url;
}

/** The one fetch of the page; `init` carries the method. Network failures → status 0. */
async function send(url, init) {
  let response;
  try {
    response = await fetch(url, { ...init, credentials: "omit", cache: "no-store" });
  } catch {
    throw new ApiError(0, "unreachable", "Cannot reach the deploytrace server.");
  }
  if (response.ok) {
    return response;
  }
  let message = `${response.status} ${response.statusText}`.trim();
  let code = "error";
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.message === "string") {
      message = body.error.message;
      code = String(body.error.code);
    }
  } catch {
    // Not JSON (a proxy's error page, say): keep the status line.
  }
  throw new ApiError(response.status, code, message);
}

async function request(segments, params, options, accept) {
  const token = options.token ?? storedToken() ?? "";
  if (!token) {
    // Signed out while a view was still loading: its later requests are not sent (they
    // could only be refused); the view was left, so nobody shows this error.
    const error = new ApiError(401, "unauthenticated", "Signed out.");
    error.handled = true;
    throw error;
  }
  try {
    return await send(apiUrl(segments, params), {
      method: "GET",
      headers: { Accept: accept, Authorization: `Bearer ${token}` },
    });
  } catch (error) {
    if (error.status === 401 && !options.token) {
      error.handled = true;
      // A view's requests run in parallel: the first refusal shows the sign-in form and
      // forgets the token; the others (and any answer that arrives after the user signed
      // in again) were made with a token that is no longer the current one and must not
      // take the page back to the form.
      if (storedToken() === token) {
        onUnauthenticated(error.message);
      }
    }
    throw error;
  }
}

/** GET /v1/<segments...>?params as JSON. `options.token` checks a candidate token instead. */
export async function getJson(segments, params = {}, options = {}) {
  const response = await request(segments, params, options, "application/json");
  return response.json();
}

/** GET /v1/<segments...> as text (an attestation's stored bytes). */
export async function getText(segments) {
  const response = await request(segments, {}, {}, "application/octet-stream");
  return response.text();
}

/** Every item of a paginated list; `truncated` says whether MAX_PAGES stopped the walk. */
export async function getAll(segments, params = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const body = await getJson(segments, { ...params, limit: 500, cursor });
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) {
      return { items, truncated: false };
    }
  }
  return { items, truncated: true };
}

/** `getAll`, or null when the server has no such endpoint (an older server). */
export async function getAllIfAvailable(segments, params = {}) {
  try {
    return await getAll(segments, params);
  } catch (error) {
    if (isMissingEndpoint(error)) {
      return null;
    }
    throw error;
  }
}

/** `getJson`, or null when the server has no such endpoint. */
export async function getJsonIfAvailable(segments, params = {}) {
  try {
    return await getJson(segments, params);
  } catch (error) {
    if (isMissingEndpoint(error)) {
      return null;
    }
    throw error;
  }
}

/** `deploytrace ui`'s sign-in link: its one-time code for {token, expires_at}. */
export async function exchangeSignInCode(code) {
  const response = await send(new URL("ui/sign-in", document.baseURI), {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify({ code }),
  });
  return response.json();
}
