// Building DOM from data without ever parsing data as HTML: every string becomes a text node
// or an attribute value, so names like "<img onerror=…>" show up as the text they are.

/**
 * el("a", {href: "#/", class: "x", onclick: fn}, "text", child, [more])
 * Props: `class`, `on<event>` (listeners), booleans (true → present), anything else an attribute.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  appendAll(node, children);
  return node;
}

export function appendAll(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A text-only link; `href` is always one the dashboard built (a "#/…" route). */
export function link(href, text, props = {}) {
  return el("a", { ...props, href }, text);
}

/** A table; `columns` are header labels, `rows` arrays of cells (nodes or strings). */
export function table(caption, columns, rows, props = {}) {
  const head = el(
    "thead",
    {},
    el(
      "tr",
      {},
      columns.map((c) => el("th", { scope: "col" }, c)),
    ),
  );
  const body = el(
    "tbody",
    {},
    rows.map((cells) => row(cells)),
  );
  return el(
    "div",
    { class: "table-wrap" },
    el("table", props, caption ? el("caption", {}, caption) : null, head, body),
  );
}

export function row(cells) {
  return el(
    "tr",
    {},
    cells.map((cell) => (cell instanceof HTMLTableCellElement ? cell : el("td", {}, cell))),
  );
}

/** A <dl> from [term, value] pairs; empty values show as an em dash. */
export function definitions(pairs) {
  return el(
    "dl",
    { class: "fields" },
    pairs.map(([term, value]) => [
      el("dt", {}, term),
      el("dd", {}, value === null || value === undefined || value === "" ? dash() : value),
    ]),
  );
}

export function dash() {
  return el("span", { class: "muted" }, "—");
}
