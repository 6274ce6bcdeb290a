// Menwei's web UI: one page, hash routes, the REST API with the user's bearer token.
// Every text that comes from the server goes in with textContent: a name is never markup.
// Pages are shown by the permissions /auth/me returns; the API enforces them regardless.
"use strict";

const TEXT = window.MENWEI_TEXT;
const CODES = window.MENWEI_CODES;
const KEPT = 60; // decisions kept on the gate screen

function pickLanguage() {
  const saved = localStorage.getItem("menwei-lang");
  if (saved === "en" || saved === "zh") return saved;
  const first = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return first.toLowerCase().startsWith("zh") ? "zh" : "en";
}

const app = { lang: pickLanguage(), token: sessionStorage.getItem("menwei-token"), me: null, live: null,
              gates: new Map(), cleanup: [] };
const $ = (id) => document.getElementById(id);
const t = (key, vars) => (TEXT[app.lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => (vars || {})[k]);
const code = (c) => CODES[app.lang][c] || c;
const can = (perm) => !!app.me && app.me.permissions.includes(perm);

// pages: route → [permission needed, title key, render]; each page's code is in its own file
// (index.html loads them all before DOMContentLoaded, so the arrows find them)
const PAGES = {
  gate: ["entries.read", "nav_gate", renderGate],
  entries: ["entries.read", "nav_entries", (view) => renderEntries(view)], // entries.js
  alerts: ["alerts.read", "nav_alerts", renderAlerts],
  dashboard: ["stats.read", "nav_dashboard", renderDashboard],
  // a property company's fleet; guards see the gate tiles on their own screen instead
  devices: ["gates.write", "nav_devices", (view) => renderDevices(view)], // devices.js
  // registry.js: a community office's registry, visitor passes and (admins) the audit log
  registry: ["registry.read", "nav_registry", (view) => renderRegistry(view)],
  passes: ["registry.write", "nav_passes", (view) => renderPasses(view)],
  audit: ["audit.read", "nav_audit", (view) => renderAudit(view)],
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function applyLanguage(root) {
  document.documentElement.lang = app.lang === "zh" ? "zh-CN" : "en";
  for (const node of (root || document).querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = app.lang === "zh" ? "English" : "中文";
}

// ------------------------------------------------------------------ API
class ApiError extends Error {
  // errors: a 422's invalid fields ({loc, msg}), for pages that show each beside its field
  constructor(status, message, errors) { super(message); this.status = status; this.errors = errors || null; }
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (app.token) headers.Authorization = `Bearer ${app.token}`;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const r = await fetch(`/api/v1${path}`, { ...options, headers });
  if (r.status === 401 && app.token) { logout(t("expired")); throw new ApiError(401, t("expired")); }
  if (!r.ok) {
    let msg = r.statusText;
    let errors = null;
    try {
      const body = await r.json();
      msg = body.error?.message || body.detail || msg;
      errors = Array.isArray(body.errors) ? body.errors : null;
    } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, typeof msg === "string" ? msg : JSON.stringify(msg), errors);
  }
  return options.raw ? r : r.json();
}

function fmtTime(iso) {
  const d = new Date(iso);
  return d.toLocaleString(app.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
}

function personName(e) {
  if (e.resident_name) return e.resident_name;
  if (e.visitor_pass_id) return t("visitor_of", { host: e.pass_host_name || e.pass_host_resident_id || "?" });
  if (e.person_outside_scope) return t("outside_scope");
  return e.resident_id || t("unknown");
}

function temperature(e) {
  if (e.temperature_c === null || e.temperature_c === undefined) return t("no_temperature");
  const text = `${Number(e.temperature_c).toFixed(1)} °C`;
  return e.temperature_status === "fever" ? `${text} (${code("fever")})` : text;
}

async function faceImage(entry, which = "face") {
  const img = el("img", { class: `face ${which === "face" ? "gate" : "enrolled"}`, alt: "",
                          title: t(which === "face" ? "gate_crop" : "enrolled_photo") });
  api(`/entries/${entry.event_id}/${which}`, { raw: true })
    .then((r) => r.blob()).then((b) => { img.src = URL.createObjectURL(b); })
    .catch(() => img.classList.add("none")); // no crop kept (or purged by retention)
  return img;
}

// ------------------------------------------------------------------ login / frame
async function login(form) {
  const err = $("login-error");
  err.textContent = "";
  const body = new URLSearchParams({ username: form.username.value, password: form.password.value });
  const r = await fetch("/api/v1/auth/token", { method: "POST", body });
  if (!r.ok) {
    const retry = r.headers.get("Retry-After");
    err.textContent = r.status === 429 ? t("throttled", { s: retry || "?" }) : t("bad_login");
    return;
  }
  app.token = (await r.json()).access_token;
  sessionStorage.setItem("menwei-token", app.token);
  await start();
}

function logout(message) {
  stopPage();
  app.token = null;
  app.me = null;
  sessionStorage.removeItem("menwei-token");
  showLogin(message);
}

function showLogin(message) {
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  const view = $("view");
  view.replaceChildren($("t-login").content.cloneNode(true));
  applyLanguage(view);
  if (message) $("login-error").textContent = message;
  $("login-form").addEventListener("submit", (ev) => { ev.preventDefault(); login(ev.target); });
}

function buildNav() {
  const nav = $("nav");
  nav.replaceChildren(...Object.entries(PAGES).filter(([, [perm]]) => can(perm))
    .map(([route, [, title]]) => el("a", { href: `#/${route}`, "data-route": route, "data-i18n": title }, t(title))));
  nav.hidden = false;
  $("logout").hidden = false;
  $("who").textContent = `${app.me.username} (${app.me.role})`;
}

async function start() {
  try {
    app.me = await api("/auth/me");
  } catch (e) {
    if (e.status !== 401) showLogin(t("error", { msg: e.message }));
    return;
  }
  buildNav();
  route();
}

function stopPage() {
  for (const fn of app.cleanup.splice(0)) fn();
}

function route() {
  if (!app.me) return;
  stopPage();
  const wanted = location.hash.replace(/^#\//, "");
  const allowed = Object.keys(PAGES).filter((r) => can(PAGES[r][0]));
  const name = allowed.includes(wanted) ? wanted : allowed[0];
  for (const a of $("nav").querySelectorAll("a")) a.classList.toggle("current", a.dataset.route === name);
  const view = $("view");
  if (!name) { view.replaceChildren(el("p", { class: "muted" }, t("nothing"))); return; }
  PAGES[name][2](view);
  applyLanguage(view);
}

// ------------------------------------------------------------------ live stream (SSE over fetch)
// EventSource cannot send the Authorization header, so the stream is read with fetch; a dropped
// stream reconnects with Last-Event-ID and misses nothing committed meanwhile.
function openLive(onEntry, onState, onReady) {
  const ctl = { stop: false, abort: null, lastId: null };
  (async () => {
    let backoff = 500;
    while (!ctl.stop) {
      const abort = new AbortController();
      ctl.abort = abort;
      try {
        const headers = { Authorization: `Bearer ${app.token}` };
        if (ctl.lastId !== null) headers["Last-Event-ID"] = String(ctl.lastId);
        const r = await fetch("/api/v1/live/entries", { headers, signal: abort.signal });
        if (r.status === 401) { logout(t("expired")); return; }
        if (!r.ok) throw new Error(r.statusText);
        onState(true);
        backoff = 500;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const ev = { event: "message", data: "", id: null };
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) ev.event = line.slice(7);
              else if (line.startsWith("data: ")) ev.data += line.slice(6);
              else if (line.startsWith("id: ")) ev.id = Number(line.slice(4));
            }
            if (ev.event === "ready" && ctl.lastId === null) {
              ctl.lastId = JSON.parse(ev.data).after_id;
              if (onReady) onReady();
            }
            if (ev.event === "entry") { ctl.lastId = ev.id; onEntry(JSON.parse(ev.data)); }
            if (ev.event === "expired") { logout(t("expired")); return; }
          }
        }
      } catch (_) { /* aborted or dropped: reconnect below */ }
      if (ctl.stop) return;
      onState(false);
      await new Promise((ok) => setTimeout(ok, backoff));
      backoff = Math.min(backoff * 2, 10000);
    }
  })();
  return () => { ctl.stop = true; if (ctl.abort) ctl.abort.abort(); };
}

// ------------------------------------------------------------------ gate screen (guards)
function decisionItem(e) {
  const reasons = e.reasons.map(code).join(" · ");
  const li = el("li", { class: `decision ${e.decision}`, "data-event": e.event_id },
    el("span", { class: "name" }, personName(e)),
    el("span", { class: `verdict ${e.decision}` }, t(e.decision)),
    el("span", { class: "meta" }, `${e.gate_id} · ${fmtTime(e.captured_at)} · ${temperature(e)}`
      + (e.score !== null && e.score !== undefined ? ` · ${t("score")} ${Number(e.score).toFixed(3)}` : "")),
    el("span", { class: "reasons" }, reasons));
  // the gate's crop, and beside it the enrolment photo of the resident it named: is it her?
  const faces = el("div", { class: "faces" });
  li.prepend(faces);
  faceImage(e).then((img) => faces.prepend(img));
  if (e.resident_id) faceImage(e, "enrolled-face").then((img) => faces.append(img));
  return li;
}

function openForm(gateId) {
  const form = el("form", { class: "open-form" },
    el("label", {}, el("span", {}, t("reason")),
      el("input", { name: "reason", required: true, maxlength: 512, placeholder: t("reason_hint") })),
    el("button", { type: "submit" }, t("send")),
    el("button", { type: "button", onclick: () => form.remove() }, t("cancel")),
    el("p", { class: "error", role: "alert" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = form.querySelector(".error");
    try {
      await api(`/gates/${encodeURIComponent(gateId)}/commands`,
                { method: "POST", json: { kind: "open", reason: form.reason.value } });
      form.replaceWith(el("p", { class: "ok" }, t("open_sent", { gate: gateId })));
    } catch (e) { out.textContent = t("error", { msg: e.message }); }
  });
  return form;
}

function queueItem(e) {
  const li = el("li", { class: `decision ${e.decision}` },
    el("span", { class: "name" }, personName(e)),
    el("span", { class: "meta" }, `${e.gate_id} · ${fmtTime(e.captured_at)} · ${e.reasons.map(code).join(" · ")}`));
  if (can("gates.open")) {
    li.append(el("button", { type: "button", class: "open-button",
                             onclick: (ev) => { ev.target.replaceWith(openForm(e.gate_id)); } }, t("remote_open")));
  }
  faceImage(e).then((img) => li.prepend(img));
  return li;
}

function renderTiles() {
  const box = $("gate-tiles");
  if (!box) return;
  box.replaceChildren(...[...app.gates.values()].map((g) => {
    const door = g.telemetry && g.telemetry.door ? g.telemetry.door : null;
    return el("div", { class: `tile ${g.state}`, "data-gate": g.id },
      el("strong", {}, g.name || g.id),
      el("span", {}, t(g.state === "online" || g.state === "offline" ? g.state : "unknown_state")),
      door ? el("span", { class: "muted" }, typeof door === "string" ? door : JSON.stringify(door)) : null);
  }));
}

// A door alarm says which (forced, held, fire); every kind has its colour (app.css), so a guard
// tells a fever from a forced door across the room.
function alertItem(a, onAck) {
  const alarm = a.kind === "door_alarm" && a.detail && a.detail.alarm ? String(a.detail.alarm) : null;
  const cls = `alert-item ${a.acknowledged_at ? "done" : "open"} kind-${a.kind}${alarm ? ` door-${alarm}` : ""}`;
  const li = el("li", { class: cls, "data-alert": a.id, "data-kind": a.kind },
    el("span", { class: "name" }, alarm ? `${code(a.kind)}: ${code(alarm)}` : code(a.kind)),
    el("span", { class: "meta" }, `${a.gate_id || a.site_id} · ${fmtTime(a.created_at)}`
      + (a.resident_name ? ` · ${a.resident_name}` : "")));
  if (a.acknowledged_at) {
    li.append(el("span", { class: "muted" }, t("acknowledged_by", { who: a.acknowledged_by })));
  } else if (can("alerts.ack")) {
    const note = el("input", { name: "note", maxlength: 500, placeholder: t("ack_note") });
    li.append(note, el("button", { type: "button", class: "ack", onclick: async () => {
      try {
        await api(`/alerts/${a.id}/ack`, { method: "POST", json: { note: note.value || null } });
        onAck();
      } catch (e) { li.append(el("p", { class: "error" }, t("error", { msg: e.message }))); }
    } }, t("acknowledge")));
  }
  return li;
}

async function loadGateAlerts() {
  const list = $("gate-alerts");
  if (!list || !can("alerts.read")) return;
  const page = await api("/alerts?open_only=true&limit=20");
  list.replaceChildren(...(page.items.length ? page.items.map((a) => alertItem(a, loadGateAlerts))
    : [el("li", { class: "muted" }, t("nothing"))]));
}

// the compound's control level, on every guard's screen (lockdown changes who may enter)
async function loadLevels() {
  const box = $("levels");
  if (!box) return;
  const sites = await api("/sites");
  box.replaceChildren(...sites.filter((s) => s.control_level !== "normal").map((s) =>
    el("div", { class: `level ${s.control_level}`, "data-site": s.id },
      el("strong", {}, `${s.name || s.id}: ${t(`level_${s.control_level}`)}`),
      el("span", {}, t(`level_${s.control_level}_rules`)))));
}

function renderGate(view) {
  view.replaceChildren($("t-gate").content.cloneNode(true));
  loadLevels().catch(() => {});
  const feed = $("decisions");
  const queue = $("queue");
  const state = $("live-state");
  const setState = (ok) => { state.textContent = t(ok ? "connected" : "reconnecting"); state.className = `pill ${ok ? "ok" : "bad"}`; };
  setState(false);
  api("/gates").then((gates) => { app.gates = new Map(gates.map((g) => [g.id, g])); renderTiles(); }).catch(() => {});
  loadGateAlerts().catch(() => {});
  const shown = new Set();
  const add = (e, older) => {
    if (shown.has(e.event_id)) return;
    shown.add(e.event_id);
    if (older) feed.append(decisionItem(e)); else feed.prepend(decisionItem(e));
    while (feed.children.length > KEPT) feed.lastChild.remove();
    if (e.decision !== "granted") {
      if (older) queue.append(queueItem(e)); else queue.prepend(queueItem(e));
      while (queue.children.length > 20) queue.lastChild.remove();
    }
  };
  const stop = openLive((e) => {
    add(e, false);
    if (e.alerts && e.alerts.length) loadGateAlerts().catch(() => {});
  }, setState, () => {
    // once the stream is open: the last decisions before it, so a guard coming on shift sees them
    // (an entry in both is shown once)
    api("/entries?limit=20").then((page) => { for (const e of page.items) add(e, true); }).catch(() => {});
  });
  // online state and door state change without entries: refresh the tiles now and then
  const timer = setInterval(() => {
    api("/gates").then((gates) => { app.gates = new Map(gates.map((g) => [g.id, g])); renderTiles(); }).catch(() => {});
    loadLevels().catch(() => {});
  }, 5000);
  app.cleanup.push(stop, () => clearInterval(timer));
}

// ------------------------------------------------------------------ alerts
function renderAlerts(view) {
  view.replaceChildren($("t-alerts").content.cloneNode(true));
  const list = $("alert-list");
  const openOnly = $("alerts-open");
  const load = async () => {
    try {
      const page = await api(`/alerts?limit=100${openOnly.checked ? "&open_only=true" : ""}`);
      list.replaceChildren(...(page.items.length ? page.items.map((a) => alertItem(a, load))
        : [el("li", { class: "muted" }, t("nothing"))]));
    } catch (e) { list.replaceChildren(el("li", { class: "error" }, t("error", { msg: e.message }))); }
  };
  openOnly.addEventListener("change", load);
  load();
}

// ------------------------------------------------------------------ dashboard
const COLOURS = { granted: "#1a7f37", denied: "#c62828", alert: "#b26a00", fevers: "#7b1fa2", unknown_faces: "#455a64" };

// Stacked bars drawn in the page (no chart library to fetch): one bar per label, `series` stacked.
function drawBars(canvas, labels, rows, series) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = { l: 36, r: 8, t: 8, b: 22 };
  ctx.clearRect(0, 0, w, h);
  const totals = rows.map((r) => series.reduce((sum, k) => sum + r[k], 0));
  const max = Math.max(1, ...totals);
  const step = (w - pad.l - pad.r) / labels.length;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#666";
  ctx.strokeStyle = "#ddd";
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (h - pad.t - pad.b) * (1 - i / 4);
    ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(w - pad.r, y); ctx.stroke();
    ctx.fillText(String(Math.round((max * i) / 4)), 2, y + 4);
  }
  rows.forEach((r, i) => {
    let y = h - pad.b;
    for (const k of series) {
      const bh = ((h - pad.t - pad.b) * r[k]) / max;
      ctx.fillStyle = COLOURS[k];
      ctx.fillRect(pad.l + i * step + step * 0.15, y - bh, step * 0.7, bh);
      y -= bh;
    }
    if (labels.length <= 31 || i % 2 === 0) { ctx.fillStyle = "#666"; ctx.fillText(labels[i], pad.l + i * step + 2, h - 6); }
  });
  canvas.setAttribute("aria-label", series.map((k) => `${t(k)} ${rows.reduce((s2, r) => s2 + r[k], 0)}`).join(", "));
}

function localDate(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function renderDashboard(view) {
  view.replaceChildren($("t-dashboard").content.cloneNode(true));
  const form = $("dash-filters");
  form.site.append(el("option", { value: "" }, t("all_sites")));
  api("/sites").then((list) => { for (const s of list) form.site.append(el("option", { value: s.id }, s.name || s.id)); })
    .catch(() => {});
  form.day.value = localDate(new Date());
  setupLevelForm(form);
  const load = async () => {
    // the browser's own days and hours, so the chart's "today" is the date shown beside it
    const q = new URLSearchParams({ tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
    if (form.site.value) q.set("site", form.site.value);
    const day = form.day.value || localDate(new Date());
    try {
      const since = new Date(`${day}T00:00`);
      since.setDate(since.getDate() - 6);
      // both at once: one after the other, a property company's figures came after 1 s (bench/web_paint_bench.py)
      const [hours, daily] = await Promise.all([api(`/stats/hourly?day=${day}&${q}`),
                                                api(`/stats/daily?since=${localDate(since)}&until=${day}&${q}`)]);
      const sum = (k) => hours.hours.reduce((s2, r) => s2 + r[k], 0);
      $("dash-totals").replaceChildren(...["entries", "granted", "denied", "alert", "fevers", "unknown_faces"].map((k) =>
        el("div", { class: `figure ${k}`, "data-figure": k }, el("strong", {}, String(sum(k))), el("span", {}, t(k === "entries" ? "entries_n" : k)))));
      drawBars($("chart-hours"), hours.hours.map((r) => String(r.hour)), hours.hours, ["granted", "denied", "alert"]);
      const days = [];
      for (let d = new Date(since), i = 0; i < 7; i++, d.setDate(d.getDate() + 1)) {
        const key = localDate(d);
        const rows = daily.items.filter((x) => x.day === key);
        days.push({ label: key.slice(5), granted: rows.reduce((a, x) => a + x.granted, 0),
                    denied: rows.reduce((a, x) => a + x.denied, 0), alert: rows.reduce((a, x) => a + x.alert, 0) });
      }
      drawBars($("chart-days"), days.map((d) => d.label), days, ["granted", "denied", "alert"]);
      $("dash-gates").replaceChildren(...hours.gates.map((g) => el("tr", { "data-gate": g.gate_id },
        el("td", {}, g.gate_id), el("td", {}, g.entries), el("td", {}, g.granted), el("td", {}, g.denied), el("td", {}, g.alert))));
      await reviewFigures(form.site.value, localDate(since), day); // entries.js
    } catch (e) { $("dash-totals").replaceChildren(el("p", { class: "error" }, t("error", { msg: e.message }))); }
  };
  form.addEventListener("change", load);
  load();
  const timer = setInterval(load, 30000);
  app.cleanup.push(() => clearInterval(timer));
}

// an officer sets her compound's level (a compound must be chosen: the level is per compound)
function setupLevelForm(filters) {
  const form = $("level-form");
  if (!can("control.set")) return;
  const show = async () => {
    const site = filters.site.value || (app.me.sites && app.me.sites.length === 1 ? app.me.sites[0] : "");
    form.hidden = true; // until the current level is in: a choice made earlier would be overwritten
    if (!site) return;
    form.dataset.site = site;
    const now = await api(`/sites/${encodeURIComponent(site)}/control-level`);
    form.level.value = now.level;
    form.hidden = false;
    $("level-now").textContent = `${site}: ${t(`level_${now.level}`)}`
      + (now.set_by ? ` (${now.set_by}, ${fmtTime(now.set_at)})` : "");
  };
  filters.site.addEventListener("change", () => show().catch(() => {}));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("level-error").textContent = "";
    try {
      const out = await api(`/sites/${encodeURIComponent(form.dataset.site)}/control-level`,
                            { method: "PUT", json: { level: form.level.value, reason: form.reason.value } });
      form.reason.value = "";
      const sent = out.gates.filter((g) => g.published).length;
      $("level-now").textContent = `${out.site_id}: ${t(`level_${out.level}`)} — ${t("level_sent", { n: sent, of: out.gates.length })}`;
    } catch (e) { $("level-error").textContent = t("error", { msg: e.message }); }
  });
  show().catch(() => {});
}

// ------------------------------------------------------------------ boot
document.addEventListener("DOMContentLoaded", () => {
  $("lang").addEventListener("click", () => {
    app.lang = app.lang === "zh" ? "en" : "zh";
    localStorage.setItem("menwei-lang", app.lang);
    if (app.me) { buildNav(); route(); } else applyLanguage();
  });
  $("logout").addEventListener("click", () => logout());
  window.addEventListener("hashchange", route);
  applyLanguage();
  if (app.token) start(); else showLogin();
});
