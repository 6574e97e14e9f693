// Small helpers shared by the pages. Plain ES module, no build step.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 -> "1.5 KiB". */
export function formatBytes(n) {
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

/** The `Authorization` header for the token typed into the page, if any. */
export function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A message a person can act on, from an HTTP status and the server's JSON `{error, status}`. */
export function explain(status, body, name) {
  const reason = body && typeof body.error === "string" ? body.error : "";
  const subject = name ? `${name}: ` : "";
  switch (status) {
    case 0:
      return `${subject}the connection failed (server unreachable, or it closed the connection)`;
    case 400:
      return `${subject}refused: ${reason || "bad request"}`;
    case 401:
      return `${subject}unauthorized: this server requires an access token; enter it in the Access token field${
        reason ? ` (${reason})` : ""
      }`;
    case 404:
      return `${subject}not found${reason ? ` (${reason})` : ""}`;
    case 413:
      return `${subject}too large: ${reason || "over the server's upload limit"}`;
    default:
      return `${subject}failed with HTTP ${status}${reason ? `: ${reason}` : ""}`;
  }
}

/** Parses a JSON error body, tolerating anything else. */
export function parseError(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Appends a table cell; `label` is shown before the value when the table is stacked on a phone. */
export function cell(row, content, label, className) {
  const td = document.createElement("td");
  td.dataset.label = label;
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
  return td;
}
