// Part of the web UI (app.js holds the frame: api(), el(), t(), routing); loaded after it.
"use strict";

// ------------------------------------------------------------------ devices (property companies)
function short(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return value.state || Object.values(value).filter((v) => typeof v !== "object").join(" ");
  return String(value);
}

function deviceRow(g) {
  const tm = g.telemetry || {};
  const lat = tm.latency_ms ? Object.entries(tm.latency_ms).filter(([k]) => ["detect", "embed", "decide"].includes(k))
    .map(([k, v]) => `${k} ${Number(v).toFixed(1)}`).join(", ") : "—";
  const gallery = g.gallery_version === null ? "—"
    : `v${g.gallery_version}${g.gallery_current === false ? ` (${t("behind")} v${g.published_gallery_version})` : ""}`;
  const config = g.config_error ? `${t("refused")}: ${g.config_error}` : (g.config_version === null ? "—" : `v${g.config_version}`);
  return el("tr", { class: `${g.state}${g.gallery_current === false || g.config_error ? " behind" : ""}`, "data-gate": g.id },
    el("td", {}, g.name || g.id), el("td", {}, g.site_id),
    el("td", { class: `state ${g.state}` }, t(g.state === "online" || g.state === "offline" ? g.state : "unknown_state")),
    el("td", {}, g.last_seen_at ? fmtTime(g.last_seen_at) : "—"), el("td", {}, tm.fps ?? "—"), el("td", {}, lat),
    el("td", {}, tm.outbox_depth === undefined ? "—" : `${tm.outbox_depth}${tm.outbox_near_full ? ` (${t("near_full")})` : ""}`),
    el("td", {}, gallery), el("td", {}, config),
    el("td", {}, [short(tm.camera), short(tm.thermal), short(tm.door)].join(" / ")));
}

function renderDevices(view) {
  view.replaceChildren($("t-devices").content.cloneNode(true));
  const load = () => api("/gates").then((gates) => $("device-rows").replaceChildren(...gates.map(deviceRow)))
    .catch((e) => $("device-rows").replaceChildren(el("tr", {}, el("td", { class: "error" }, t("error", { msg: e.message })))));
  load();
  const timer = setInterval(load, 5000);
  app.cleanup.push(() => clearInterval(timer));
}
