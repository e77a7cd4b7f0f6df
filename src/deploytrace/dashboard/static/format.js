// How values read on screen: short digests, relative and absolute UTC times, kind labels.

const KINDS = { CONTAINER_IMAGE: "container image", HELM_CHART: "Helm chart" };

/** "sha256:4a8eb6f9ae76" — enough to tell digests apart at a glance; the full one is a title. */
export function shortDigest(digest) {
  if (typeof digest !== "string") {
    return "";
  }
  const colon = digest.indexOf(":");
  return colon < 0 ? digest.slice(0, 12) : digest.slice(0, colon + 13);
}

/** Whether a digest can name an OCI artifact (git commits and the like cannot). */
export function isArtifactDigest(digest) {
  return /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/.test(digest || "");
}

export function kindLabel(kind) {
  return KINDS[kind] ?? String(kind).toLowerCase();
}

/** The artifact as people name it: its version (tag) if known, else its short digest. */
export function artifactLabel(artifact) {
  return artifact.version || shortDigest(artifact.digest);
}

/** "2024-07-12 11:05:19 UTC" from an RFC 3339 timestamp (the API always sends UTC). */
export function utc(timestamp) {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) {
    return String(timestamp);
  }
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** "just now", "5m ago", "3h ago", "12d ago"; older than a year shows the date. */
export function ago(timestamp, now = Date.now()) {
  const then = new Date(timestamp).getTime();
  if (Number.isNaN(then)) {
    return String(timestamp);
  }
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 45) {
    return "just now";
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return `${minutes}m ago`;
  }
  const hours = Math.round(minutes / 60);
  if (hours < 48) {
    return `${hours}h ago`;
  }
  const days = Math.round(hours / 24);
  if (days < 365) {
    return `${days}d ago`;
  }
  return utc(timestamp).slice(0, 10);
}

export function bytes(size) {
  if (size < 1024) {
    return `${size} B`;
  }
  if (size < 1024 * 1024) {
    return `${(size / 1024).toFixed(1)} KiB`;
  }
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

/** "45s", "12m", "3h 20m", "2d 4h" from a number of seconds; "" for null. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) {
    return "";
  }
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  const minutes = Math.round(s / 60);
  if (minutes < 60) {
    return `${minutes}m`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    const rest = minutes % 60;
    return rest ? `${hours}h ${rest}m` : `${hours}h`;
  }
  const days = Math.floor(hours / 24);
  const restHours = hours % 24;
  return restHours ? `${days}d ${restHours}h` : `${days}d`;
}

/** The URL when it is an absolute http(s) one (safe to link to), else null. */
export function httpUrl(text) {
  if (typeof text !== "string") {
    return null;
  }
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** "2024-07-12T11:05:00Z": an instant as the API takes it (whole seconds, UTC). */
export function isoSeconds(date) {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** A Date from "2024-07-12T11:05:00Z" (a zone is required: the dashboard speaks UTC). */
export function parseInstant(text) {
  const value = String(text || "").trim();
  if (!/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(value)) {
    return null;
  }
  const date = new Date(value.replace(" ", "T"));
  return Number.isNaN(date.getTime()) ? null : date;
}

export function plural(count, noun, many = `${noun}s`) {
  return `${count} ${count === 1 ? noun : many}`;
}
