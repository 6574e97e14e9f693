// The files page: upload (one XMLHttpRequest PUT /files/:name per file, for its progress events;
// files over 8 MiB resumably, with tus-js-client on /uploads), list, download and delete. Which parts
// show depends on the routes this replica runs (/functions).
import { authHeaders, cell, explain, formatBytes, parseError } from "./common.js";

const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
const message = $("message");
const uploads = $("uploads");
const tbody = document.querySelector("#files tbody");
const filesStatus = $("files-status");
let canDelete = false;
let canResume = false;

/** From this size on an upload goes through tus: a dropped connection or a reload costs only the rest. */
const RESUMABLE_FROM_BYTES = 8 * 1024 * 1024;
/** A bounded request each: a proxy never holds a whole file, and each chunk's 204 is a checkpoint. */
const RESUMABLE_CHUNK_BYTES = 16 * 1024 * 1024;
/** How long to wait before each new attempt after a dropped connection (then the upload fails). */
const RESUMABLE_RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000];

const fileUrl = (name) => `/files/${encodeURIComponent(name)}`;
const token = () => tokenInput.value.trim();

function say(text) {
  message.textContent = text;
}

// --- Upload -----------------------------------------------------------------------------------

function uploadAll(files) {
  say("");
  const list = [...files];
  if (list.length === 0) return;
  Promise.all(list.map(upload)).then((results) => {
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) say(failed.map((r) => r.message).join("\n"));
    refresh();
  });
}

function upload(file) {
  const item = document.createElement("li");
  item.className = "upload";
  item.dataset.name = file.name;
  item.dataset.state = "uploading";
  const label = document.createElement("span");
  label.className = "upload-name";
  label.textContent = `${file.name} (${formatBytes(file.size)})`;
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", `Upload progress of ${file.name}`);
  const detail = document.createElement("span");
  detail.className = "upload-detail";
  detail.setAttribute("aria-live", "polite");
  detail.textContent = "starting…";
  item.append(label, bar, detail);
  uploads.prepend(item);

  const started = performance.now();
  const speed = (bytes) => `${formatBytes(bytes / Math.max((performance.now() - started) / 1000, 0.001))}/s`;
  const view = { item, bar, detail, speed };
  return canResume && file.size > RESUMABLE_FROM_BYTES ? resumableUpload(file, view) : putUpload(file, view);
}

function finisher({ item, detail }, resolve) {
  return (ok, text) => {
    item.dataset.state = ok ? "done" : "error";
    detail.textContent = text;
    resolve({ ok, message: text });
  };
}

function putUpload(file, { item, bar, detail, speed }) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    // PUT /files/:name streams the raw bytes: one request per file, so each gets its own progress.
    const body = file;
    xhr.open("PUT", fileUrl(file.name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    for (const [k, v] of Object.entries(authHeaders(token()))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.floor((e.loaded / e.total) * 100);
      bar.value = Math.min(pct, 99); // 100 only once the server has stored the file.
      detail.textContent = `${pct}% · ${speed(e.loaded)}`;
    };
    const finish = finisher({ item, detail }, resolve);
    xhr.onload = () => {
      if (xhr.status === 200 || xhr.status === 201) {
        bar.value = 100;
        const reply = parseError(xhr.responseText);
        const stored = reply;
        finish(
          true,
          `100% · ${speed(file.size)} · ${xhr.status === 201 ? "stored" : "replaced"}${
            stored?.sha256 ? ` · sha256 ${stored.sha256.slice(0, 12)}…` : ""
          }`,
        );
      } else {
        if (xhr.status === 401) tokenInput.focus();
        finish(false, explain(xhr.status, parseError(xhr.responseText), file.name));
      }
    };
    xhr.onerror = () => finish(false, explain(0, null, file.name));
    xhr.send(body);
  });
}

// tus (POST /uploads, then PATCH at the server's offset): tus-js-client keeps each upload's URL in
// localStorage under the file's fingerprint (name, type, size, modification time), so choosing the
// same file again after a reload asks the server where it got to and sends only the rest.
function resumableUpload(file, { item, bar, detail, speed }) {
  return new Promise((resolve) => {
    const finish = finisher({ item, detail }, resolve);
    let resumedAt = 0;
    const upload = new globalThis.tus.Upload(file, {
      endpoint: "/uploads",
      chunkSize: RESUMABLE_CHUNK_BYTES,
      retryDelays: RESUMABLE_RETRY_DELAYS,
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, filetype: file.type },
      headers: authHeaders(token()),
      onProgress(sent, total) {
        const pct = Math.floor((sent / total) * 100);
        bar.value = Math.min(pct, 99); // 100 only once the server has stored the file.
        const resumed = resumedAt > 0 ? ` · resumed at ${formatBytes(resumedAt)}` : "";
        detail.textContent = `${pct}%${resumed} · ${speed(sent - resumedAt)}`;
      },
      onSuccess() {
        bar.value = 100;
        finish(true, `100% · ${speed(file.size - resumedAt)} · stored${resumedAt > 0 ? " (resumed)" : ""}`);
      },
      onAfterResponse(request, response) {
        // A HEAD is tus-js-client asking where a previous attempt (or a previous page) got to.
        if (request.getMethod() !== "HEAD" || response.getStatus() !== 200 || resumedAt > 0) return;
        resumedAt = Number(response.getHeader("Upload-Offset")) || 0;
        if (resumedAt > 0) item.dataset.resumedAt = String(resumedAt);
      },
      onError(err) {
        const status = err.originalResponse?.getStatus() ?? 0;
        if (status === 401) tokenInput.focus();
        finish(false, explain(status, parseError(err.originalResponse?.getBody() ?? ""), file.name));
      },
    });
    upload.findPreviousUploads().then((previous) => {
      if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    });
  });
}

const input = $("file-input");
input.addEventListener("change", () => {
  uploadAll(input.files);
  input.value = ""; // The same file can be chosen again.
});

const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  uploadAll(e.dataTransfer?.files ?? []);
});

// --- List, download, delete -------------------------------------------------------------------

async function refresh() {
  filesStatus.textContent = "Loading…";
  try {
    const res = await fetch("/files", { headers: { accept: "application/json" } });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error(explain(res.status, body));
    render(body.files);
    filesStatus.textContent = `${body.files.length} file${body.files.length === 1 ? "" : "s"}, ${
      formatBytes(body.files.reduce((n, f) => n + f.size, 0))
    }`;
  } catch (err) {
    filesStatus.textContent = `Could not list files: ${err.message}`;
  }
}

function render(files) {
  tbody.replaceChildren();
  for (const file of files.sort((a, b) => a.name.localeCompare(b.name))) {
    const row = document.createElement("tr");
    row.dataset.name = file.name;
    const link = document.createElement("a");
    link.href = fileUrl(file.name);
    link.download = file.name;
    link.textContent = file.name;
    link.setAttribute("aria-label", `Download ${file.name}`);
    cell(row, link, "Name", "name");
    cell(row, formatBytes(file.size), "Size").title = `${file.size} bytes`;
    const sha = document.createElement("code");
    sha.textContent = file.sha256;
    cell(row, sha, "SHA-256", "sha");
    const when = new Date(file.modified);
    const time = document.createElement("time");
    time.dateTime = when.toISOString();
    time.textContent = when.toLocaleString();
    cell(row, time, "Modified");
    const actions = cell(row, "", "Actions", "actions");
    if (canDelete) {
      const del = document.createElement("button");
      del.type = "button";
      del.className = "danger";
      del.textContent = "Delete";
      del.setAttribute("aria-label", `Delete ${file.name}`);
      del.addEventListener("click", () => remove(file.name));
      actions.append(del);
    }
    tbody.append(row);
  }
}

async function remove(name) {
  if (!confirm(`Delete ${name}?`)) return;
  say("");
  const res = await fetch(fileUrl(name), { method: "DELETE", headers: authHeaders(token()) }).catch(() => null);
  if (!res) return say(explain(0, null, name));
  if (res.status !== 204) {
    if (res.status === 401) tokenInput.focus();
    return say(explain(res.status, await res.json().catch(() => null), name));
  }
  filesStatus.textContent = `Deleted ${name}`;
  await refresh();
}

$("refresh").addEventListener("click", refresh);

// --- Start: show what this replica serves -----------------------------------------------------

tokenInput.value = sessionStorage.getItem("tarsd-token") ?? "";
tokenInput.addEventListener("input", () => sessionStorage.setItem("tarsd-token", token()));

const routes = new Set();
try {
  for (const fn of await (await fetch("/functions")).json()) {
    for (const r of fn.routes) routes.add(`${r.method} ${r.path}`);
  }
} catch {
  // Leave everything hidden but the notice below.
}
canDelete = routes.has("DELETE /files/:name");
canResume = routes.has("POST /uploads") && "tus" in globalThis && globalThis.tus.isSupported;
$("files-app").hidden = !routes.has("PUT /files/:name");
$("files-section").hidden = !routes.has("GET /files");
$("unavailable").hidden = !($("files-app").hidden && $("files-section").hidden);
if (!$("files-section").hidden) await refresh();
document.body.dataset.ready = "true";
