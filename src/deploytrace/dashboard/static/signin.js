// The sign-in form: an API token, checked against the server before it is kept.

import { getJson, storeToken } from "./api.js";
import { errorText, setTitle } from "./components.js";
import { el } from "./dom.js";

/** `message`: why we are here (the server's words on a refused token), or null. */
export function signInForm(message, onSignedIn) {
  setTitle("Sign in");
  const input = el("input", {
    id: "token",
    name: "token",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "token-help",
  });
  const problem = el("p", { class: "error", role: "alert", id: "sign-in-error" });
  const button = el("button", { type: "submit" }, "Sign in");
  // method=post: should the script ever not run, the browser must not put the token in a URL
  // (and the page's CSP forbids submitting forms at all).
  const form = el(
    "form",
    { class: "sign-in", method: "post", "aria-labelledby": "sign-in-title" },
    el("h1", { id: "sign-in-title" }, "Sign in"),
    el(
      "p",
      { id: "token-help", class: "muted" },
      "Paste an API token of your organization (an operator creates the first with ",
      el("code", {}, "deploytrace admin bootstrap"),
      "). It is kept in this browser tab only and sent in the Authorization header.",
    ),
    el("label", { for: "token" }, "API token"),
    input,
    button,
    problem,
  );
  if (message) {
    problem.textContent = message;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      problem.textContent = "Enter a token.";
      input.focus();
      return;
    }
    button.disabled = true;
    problem.textContent = "";
    try {
      // Any cheap authenticated GET tells whether the server accepts the token.
      await getJson(["environments"], { limit: 1 }, { token });
    } catch (error) {
      problem.textContent = error.status === 401 ? error.message : errorText(error);
      button.disabled = false;
      input.select();
      return;
    }
    storeToken(token);
    onSignedIn();
  });
  return { form, focus: () => input.focus() };
}
