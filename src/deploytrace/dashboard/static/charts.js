// Small charts drawn as inline SVG built node by node (no library, no CDN, nothing
// parsed from strings): bars per period, and a p50–p90 range per period. Colours come
// from the stylesheet; every chart also carries its numbers as a table.

import { el, table } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 480;
const HEIGHT = 140;
const PAD = { top: 10, right: 8, bottom: 22, left: 40 };

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child);
    }
  }
  return node;
}

function tooltip(text) {
  const title = document.createElementNS(SVG, "title");
  title.textContent = text;
  return title;
}

/** A nice round upper bound for the axis. */
function niceMax(value) {
  if (!(value > 0)) {
    return 1;
  }
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) {
      return step * power;
    }
  }
  return 10 * power;
}

function frame(label, max, format) {
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + innerHeight - (v / max) * innerHeight;
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": label,
    class: "chart",
    preserveAspectRatio: "none",
  });
  for (const v of [0, max / 2, max]) {
    root.append(
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      svg(
        "text",
        { x: PAD.left - 4, y: y(v) + 3, class: "axis-label", "text-anchor": "end" },
        format(v),
      ),
    );
  }
  return { root, y };
}

function xLabels(root, labels, x, width) {
  const every = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((text, i) => {
    if (i % every === 0 || i === labels.length - 1) {
      root.append(
        svg(
          "text",
          { x: x(i) + width / 2, y: HEIGHT - 6, class: "axis-label", "text-anchor": "middle" },
          text,
        ),
      );
    }
  });
}

function figure(caption, chart, columns, rows) {
  return el(
    "figure",
    { class: "chart-figure" },
    el("figcaption", {}, caption),
    chart,
    el("details", {}, el("summary", {}, "The numbers"), table(null, columns, rows)),
  );
}

/**
 * Bars per period: `values[i]` with `highlight[i]` of it drawn as the alarming part.
 * `labels` name the periods; `format` writes values on the axis.
 */
export function barChart({ caption, labels, values, highlight, format = String, legend }) {
  const max = niceMax(Math.max(0, ...values));
  const { root, y } = frame(caption, max, format);
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const slot = innerWidth / Math.max(1, values.length);
  const width = Math.max(1, slot * 0.7);
  const x = (i) => PAD.left + i * slot + (slot - width) / 2;
  values.forEach((value, i) => {
    const alarming = highlight ? highlight[i] : 0;
    const bottom = y(0);
    const text = `${labels[i]}: ${format(value)}${alarming ? ` (${alarming} ${legend})` : ""}`;
    root.append(
      svg(
        "rect",
        {
          x: x(i),
          y: y(value),
          width,
          height: Math.max(0, bottom - y(value)),
          class: "bar",
          "data-value": value,
        },
        tooltip(text),
      ),
    );
    if (alarming) {
      root.append(
        svg(
          "rect",
          {
            x: x(i),
            y: y(alarming),
            width,
            height: Math.max(0, bottom - y(alarming)),
            class: "bar bar-alarm",
          },
          tooltip(text),
        ),
      );
    }
  });
  xLabels(root, labels, x, width);
  const columns = ["Period", "Value", ...(highlight ? [legend] : [])];
  const rows = values.map((v, i) => [labels[i], format(v), ...(highlight ? [String(highlight[i])] : [])]);
  return figure(caption, root, columns, rows);
}

/** A p50 bar with a p90 whisker per period (null: no value in that period). */
export function rangeChart({ caption, labels, p50, p90, format = String }) {
  const present = [...p50, ...p90].filter((v) => v !== null && v !== undefined);
  const max = niceMax(Math.max(0, ...present));
  const { root, y } = frame(caption, max, format);
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const slot = innerWidth / Math.max(1, labels.length);
  const width = Math.max(1, slot * 0.5);
  const x = (i) => PAD.left + i * slot + (slot - width) / 2;
  labels.forEach((label, i) => {
    const median = p50[i];
    const high = p90[i];
    if (median === null || median === undefined) {
      return;
    }
    const text = `${label}: median ${format(median)}, 90th percentile ${format(high ?? median)}`;
    if (high !== null && high !== undefined) {
      const mid = x(i) + width / 2;
      root.append(
        svg("line", { x1: mid, x2: mid, y1: y(high), y2: y(median), class: "whisker" }, tooltip(text)),
        svg("line", { x1: x(i), x2: x(i) + width, y1: y(high), y2: y(high), class: "whisker" }),
      );
    }
    root.append(
      svg(
        "rect",
        {
          x: x(i),
          y: y(median),
          width,
          height: Math.max(1, y(0) - y(median)),
          class: "bar bar-lead",
          "data-value": median,
        },
        tooltip(text),
      ),
    );
  });
  xLabels(root, labels, x, width);
  const rows = labels.map((label, i) => [
    label,
    p50[i] === null || p50[i] === undefined ? "—" : format(p50[i]),
    p90[i] === null || p90[i] === undefined ? "—" : format(p90[i]),
  ]);
  return figure(caption, root, ["Period", "Median", "90th percentile"], rows);
}
