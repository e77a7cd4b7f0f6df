// Entry point: picks the view for the current "#/…" route, or the sign-in form when there
// is no token (or the server refused it).

import { forgetToken, setUnauthenticatedHandler, storedToken } from "./api.js";
import { errorBox, loading, note, pageHeader } from "./components.js";
import { el, link } from "./dom.js";
import { parseHash, routes } from "./router.js";
import { signInForm } from "./signin.js";
import { renderArtifact } from "./view-artifact.js";
import { renderAttestation, renderAttestations } from "./view-attestations.js";
import { renderEnvironments } from "./view-environments.js";
import { renderHistory } from "./view-history.js";
import { renderMatrix } from "./view-matrix.js";
import { renderRecord } from "./view-record.js";

const main = document.getElementById("main");
const nav = document.getElementById("main-nav");
const signOut = document.getElementById("sign-out");

// Bumped on every render: a slow answer for a view the user already left is dropped.
let generation = 0;
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
    };
    return Object.hasOwn(lists, first) ? [first, lists[first]] : null;
  }
  const details = {
    deployments: ["history", (ctx) => renderRecord(ctx, second)],
    artifacts: ["", (ctx) => renderArtifact(ctx, second)],
    attestations: ["attestations", (ctx) => renderAttestation(ctx, second)],
  };
  return Object.hasOwn(details, first) ? details[first] : null;
}

function notFound(ctx) {
  ctx.root.append(
    pageHeader("Page not found"),
    note("There is no such view. ", link(routes.home(), "Go to what runs where"), "."),
  );
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

function showSignIn(message) {
  generation += 1;
  forgetToken();
  nav.hidden = true;
  signOut.hidden = true;
  const { form, focus } = signInForm(message, () => render(false));
  main.replaceChildren(form);
  focus();
}

async function render(moveFocus) {
  generation += 1;
  const mine = generation;
  if (!storedToken()) {
    showSignIn(null);
    return;
  }
  nav.hidden = false;
  signOut.hidden = false;
  const route = parseHash(location.hash);
  const [section, view] = resolve(route) ?? [null, notFound];
  markNav(section);
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
  };
  try {
    await view(ctx);
  } catch (error) {
    if (mine !== generation || error.handled) {
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
