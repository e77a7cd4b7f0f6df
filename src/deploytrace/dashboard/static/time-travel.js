// The time slider: pick an instant between the first record and now (or type one); the
// chosen instant goes into the route (`?at=…`), so the view is a link anyone can open.

import { el, link } from "./dom.js";
import { isoSeconds, parseInstant, utc } from "./format.js";

const MINUTE = 60 * 1000;
// Arrow keys move the slider one step at a time: navigate once the user pauses.
const SETTLE_MS = 300;

/**
 * `first`: Date of the earliest record (null: no slider, only the field); `at`: the Date
 * shown now (null: live); `onGo(date | null)`: show that instant (null: now);
 * `nowHref`: the route of the live view.
 */
export function timeTravel({ first, at, onGo, nowHref }) {
  const form = el("form", {
    class: "time-travel",
    role: "search",
    "aria-label": "Time travel",
    method: "post",
  });
  const input = el("input", {
    id: "at-input",
    name: "at",
    type: "text",
    value: at ? isoSeconds(at) : "",
    placeholder: "2026-11-25T14:00:00Z",
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "at-problem",
  });
  const problem = el("p", { class: "error", id: "at-problem", role: "alert" });
  const shown = el("output", { for: "at-slider", class: "at-shown" });
  let slider = null;
  if (first) {
    const start = Math.floor(first.getTime() / MINUTE) * MINUTE;
    const end = Math.ceil(Date.now() / MINUTE) * MINUTE;
    const steps = Math.max(1, Math.round((end - start) / MINUTE));
    const valueOf = (date) =>
      date ? Math.min(steps, Math.max(0, Math.round((date.getTime() - start) / MINUTE))) : steps;
    const dateOf = (value) => new Date(start + Number(value) * MINUTE);
    const describe = (value) => (Number(value) >= steps ? "now" : utc(dateOf(value).toISOString()));
    slider = el("input", {
      id: "at-slider",
      type: "range",
      min: "0",
      max: String(steps),
      step: "1",
      value: String(valueOf(at)),
    });
    const label = () => {
      const text = describe(slider.value);
      shown.textContent = text;
      slider.setAttribute("aria-valuetext", text);
    };
    label();
    let settle = null;
    slider.addEventListener("input", () => {
      label();
      input.value = Number(slider.value) >= steps ? "" : isoSeconds(dateOf(slider.value));
    });
    slider.addEventListener("change", () => {
      clearTimeout(settle);
      settle = setTimeout(() => {
        onGo(Number(slider.value) >= steps ? null : dateOf(slider.value));
      }, SETTLE_MS);
    });
  } else {
    shown.textContent = at ? utc(at.toISOString()) : "now";
  }
  form.append(
    slider
      ? el(
          "div",
          { class: "field slider" },
          el("label", { for: "at-slider" }, "Time travel"),
          slider,
          shown,
        )
      : null,
    el(
      "div",
      { class: "field" },
      el("label", { for: "at-input" }, "Instant (UTC)"),
      input,
    ),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit" }, "Show"),
      at ? link(nowHref, "Back to now", { class: "back-to-now" }) : null,
    ),
    problem,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) {
      onGo(null);
      return;
    }
    const date = parseInstant(text);
    if (!date) {
      problem.textContent = `“${text}” is not an instant: write it like 2026-11-25T14:00:00Z.`;
      input.focus();
      return;
    }
    problem.textContent = "";
    onGo(date);
  });
  return form;
}
