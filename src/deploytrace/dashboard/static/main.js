// Entry point: picks the view for the current "#/…" route, or the sign-in form when there
// is no token (or the server refused it). `#/sign-in?code=…` (the link `deploytrace ui`
// prints) trades its one-time code for a token first.

import {
  exchangeSignInCode,
  forgetToken,
  setUnauthenticatedHandler,
  storeToken,
  storedToken,
} from "./api.js";
import { errorBox, errorText, loading, notFoundPage } from "./components.js";
import { el } from "./dom.js";
import { parseHash, routes } from "./router.js";
import { signInForm } from "./signin.js";
import { renderApp, renderApps } from "./view-apps.js";
import { renderArtifact } from "./view-artifact.js";
import { renderAttestation, renderAttestations } from "./view-attestations.js";
import { renderAudit } from "./view-audit.js";
import { renderDiff } from "./view-diff.js";
import { renderDora } from "./view-dora.js";
import { renderEnvironments } from "./view-environments.js";
import { renderHistory } from "./view-history.js";
import { renderMatrix } from "./view-matrix.js";
import { renderRecord } from "./view-record.js";
import { renderSearch } from "./view-search.js";

const main = document.getElementById("main");
const nav = document.getElementById("main-nav");
const signOut = document.getElementById("sign-out");
const search = document.getElementById("site-search");
const searchInput = document.getElementById("site-search-input");

// Bumped on every render: a slow answer for a view the user already left is dropped.
let generation = 0;
// Aborted when the view is left: views stop their timers and listeners on it.
let leaving = new AbortController();
// Set when a filter form navigates, so focus stays in the form instead of jumping to <main>.
let keepFocus = false;

/** [nav section, render(ctx)] for a route, or null. */
function resolve(route) {
  if (!route) {
    return null;
  }
  const [first, second, ...rest] = route.segments;
  if (rest.length) {
    return null;
  }
  if (first === undefined) {
    return ["", renderMatrix];
  }
  if (second === undefined) {
    const lists = {
      history: renderHistory,
      attestations: renderAttestations,
      environments: renderEnvironments,
      apps: renderApps,
      diff: renderDiff,
      dora: renderDora,
      search: renderSearch,
      audit: renderAudit,
    };
    return Object.hasOwn(lists, first) ? [first, lists[first]] : null;
  }
  const details = {
    deployments: ["history", (ctx) => renderRecord(ctx, second)],
    artifacts: ["", (ctx) => renderArtifact(ctx, second)],
    attestations: ["attestations", (ctx) => renderAttestation(ctx, second)],
    apps: ["apps", (ctx) => renderApp(ctx, second)],
  };
  return Object.hasOwn(details, first) ? details[first] : null;
}

function unknownRoute(ctx) {
  ctx.root.append(...notFoundPage("There is no such view.", "Page not found"));
}

function markNav(current) {
  for (const a of nav.querySelectorAll("a[data-nav]")) {
    if (a.dataset.nav === current) {
      a.setAttribute("aria-current", "page");
    } else {
      a.removeAttribute("aria-current");
    }
  }
}

function navigate(hash) {
  keepFocus = true;
  if (location.hash === hash) {
    render(false);
  } else {
    location.hash = hash;
  }
}

function leave() {
  generation += 1;
  leaving.abort();
  leaving = new AbortController();
}

function showChrome(signedIn) {
  nav.hidden = !signedIn;
  signOut.hidden = !signedIn;
  search.hidden = !signedIn;
}

function showSignIn(message) {
  leave();
  forgetToken();
  showChrome(false);
  // Signed in, keyboard and screen-reader users start at the content, as after any navigation.
  const { form, focus } = signInForm(message, () => render(true));
  main.replaceChildren(form);
  focus();
}

/** The one-time code of a `deploytrace ui` link, traded for a token. */
async function signInWithCode(code) {
  leave();
  const mine = generation;
  // Out of the address bar and the history before anything else: it must not be reused.
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  main.replaceChildren(loading("Signing in…"));
  try {
    const session = await exchangeSignInCode(code);
    storeToken(session.token);
  } catch (error) {
    if (mine === generation) {
      showSignIn(error.status === 401 ? error.message : errorText(error));
    }
    return;
  }
  if (mine === generation) {
    render(true);
  }
}

async function render(moveFocus) {
  const route = parseHash(location.hash);
  if (route && route.segments[0] === "sign-in" && route.segments.length === 1) {
    const code = route.params.get("code");
    if (code) {
      signInWithCode(code);
      return;
    }
    history.replaceState(null, "", `${location.pathname}${location.search}#/`);
    render(moveFocus);
    return;
  }
  leave();
  const mine = generation;
  if (!storedToken()) {
    showSignIn(null);
    return;
  }
  showChrome(true);
  const [section, view] = resolve(route) ?? [null, unknownRoute];
  markNav(section);
  searchInput.value = section === "search" && route ? route.params.get("q") || "" : "";
  const root = el("div", { class: "view" });
  main.replaceChildren(root);
  if (moveFocus) {
    main.focus();
  }
  const ctx = {
    root,
    params: route ? route.params : new URLSearchParams(),
    navigate,
    rerender: () => render(false),
    signal: leaving.signal,
  };
  try {
    await view(ctx);
  } catch (error) {
    if (mine !== generation || error.handled) {
      return;
    }
    if (error.status === 404) {
      // A thing that does not exist is not a failure to retry.
      root.replaceChildren(...notFoundPage(error.message));
      return;
    }
    for (const node of root.querySelectorAll(".loading")) {
      node.remove();
    }
    root.append(errorBox(error, ctx.rerender));
  }
}

setUnauthenticatedHandler((message) => showSignIn(message));
signOut.addEventListener("click", () => showSignIn(null));
search.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = searchInput.value.trim();
  if (text) {
    navigate(routes.search({ q: text }));
  }
});
document.getElementById("skip-link").addEventListener("click", (event) => {
  // The href is "#main" for no-script readers; with hash routing it must not change the route.
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", () => {
  const moveFocus = !keepFocus;
  keepFocus = false;
  render(moveFocus);
});
main.replaceChildren(loading());
render(false);
