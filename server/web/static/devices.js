// Part of the web UI (app.js holds the frame: api(), el(), t(), routing); loaded after it.
"use strict";

// ------------------------------------------------------------------ devices (property companies)
function short(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return value.state || Object.values(value).filter((v) => typeof v !== "object").join(" ");
  return String(value);
}

// the gate's lock and, when it has a door contact, whether the door stands open
function doorText(tm) {
  const known = (key, raw) => (t(key) === key ? raw : t(key)); // a state this page does not know: as sent
  const lock = tm.door === undefined || tm.door === null ? "—" : known(`door_${tm.door}`, String(tm.door));
  if (tm.door_open === true) return `${lock} · ${t("door_standing_open")}`;
  if (tm.door_open === false) return `${lock} · ${t("door_shut")}`;
  return lock;
}

// what the gate says is failing now (edge/agent/agent.py telemetry "errors": part → one line)
function errorLines(tm, except) {
  return Object.entries(tm.errors || {}).filter(([part]) => part !== except).map(([part, msg]) => {
    const key = `part_${part}`;
    return `${t(key) === key ? part : t(key)}: ${msg}`;
  });
}

function deviceRow(g, open) {
  const tm = g.telemetry || {};
  const lat = tm.latency_ms ? Object.entries(tm.latency_ms).filter(([k]) => ["detect", "embed", "decide"].includes(k))
    .map(([k, v]) => `${k} ${Number(v).toFixed(1)}`).join(", ") : "—";
  const gallery = g.gallery_version === null ? "—"
    : `v${g.gallery_version}${g.gallery_current === false ? ` (${t("behind")} v${g.published_gallery_version})` : ""}`;
  const config = g.config_error ? `${t("refused")}: ${g.config_error}` : (g.config_version === null ? "—" : `v${g.config_version}`);
  const errors = errorLines(tm, "config"); // a refused config has its own column
  return el("tr", { class: `${g.state}${g.gallery_current === false || g.config_error ? " behind" : ""}`, "data-gate": g.id },
    el("td", {}, g.name || g.id), el("td", {}, g.site_id),
    el("td", { class: `state ${g.state}` }, t(g.state === "online" || g.state === "offline" ? g.state : "unknown_state")),
    el("td", {}, g.last_seen_at ? fmtTime(g.last_seen_at) : "—"), el("td", {}, tm.fps ?? "—"), el("td", {}, lat),
    el("td", {}, tm.outbox_depth === undefined ? "—" : `${tm.outbox_depth}${tm.outbox_near_full ? ` (${t("near_full")})` : ""}`),
    el("td", {}, gallery), el("td", {}, config),
    el("td", { class: "sensors" }, [short(tm.camera), short(tm.thermal), doorText(tm)].join(" / ")),
    el("td", { class: errors.length ? "errors bad" : "errors" }, errors.length ? errors.join("; ") : "—"),
    el("td", {}, el("button", { type: "button", class: "manage", onclick: () => open(g.id) }, t("manage"))));
}

// Where a pushed config stands, from GET /gates/{id}/config and the gate's online state: the
// gate applied it, refused it (its reason, "config vN refused: …"), or still runs an older one.
function configState(cfg, gate) {
  if (!cfg.desired_version) return ["none", t("cfg_none")];
  if (cfg.in_sync) return ["applied", t("cfg_applied", { v: cfg.desired_version })];
  const running = cfg.reported_version === null ? "—" : `v${cfg.reported_version}`;
  if (cfg.error && cfg.error.startsWith(`config v${cfg.desired_version} refused`)) {
    return ["refused", t("cfg_refused", { v: cfg.desired_version, why: cfg.error, running })];
  }
  if (gate && gate.state !== "online") return ["behind", t("cfg_behind_offline", { v: cfg.desired_version, running })];
  return ["behind", t("cfg_behind", { v: cfg.desired_version, running })];
}

// One line per field the API's 422 names ("policy.fever: Input should be …"), body prefix dropped.
function fieldErrors(e) {
  if (!e.errors || !e.errors.length) return [e.message];
  return e.errors.map((f) => `${f.loc.filter((p) => p !== "body").join(".") || "config"}: ${f.msg}`);
}

function gatePanel(gateId, close) {
  const panel = $("t-gate-panel").content.cloneNode(true).firstElementChild;
  const q = (sel) => panel.querySelector(sel);
  const path = `/gates/${encodeURIComponent(gateId)}`;
  let lastCfg = null;

  const refresh = async (fillEditor) => {
    try {
      const [g, cfg] = await Promise.all([api(path), api(`${path}/config`)]);
      lastCfg = cfg;
      const tm = g.telemetry || {};
      q(".gp-title").textContent = `${g.name || g.id} (${g.site_id})`;
      q(".gp-door").textContent = doorText(tm);
      const errs = errorLines(tm);
      q(".gp-errors").replaceChildren(...(errs.length ? errs.map((m) => el("li", { class: "bad" }, m))
        : [el("li", { class: "muted" }, t("no_errors"))]));
      if (fillEditor) q("textarea[name=config]").value = JSON.stringify(cfg.desired || {}, null, 2);
      q(".cfg-effective").textContent = JSON.stringify(cfg.effective, null, 2);
      const [cls, text] = configState(cfg, g);
      const state = q(".cfg-state");
      state.className = `cfg-state ${cls}`;
      state.dataset.state = cls;
      state.textContent = text;
    } catch (e) {
      q(".cfg-state").textContent = t("error", { msg: e.message });
    }
  };

  q(".cfg-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = q(".cfg-errors");
    out.replaceChildren();
    let body;
    try {
      body = JSON.parse(q("textarea[name=config]").value || "{}");
    } catch (e) {
      out.replaceChildren(el("li", {}, t("cfg_not_json", { msg: e.message })));
      return;
    }
    try {
      const cfg = await api(`${path}/config`, { method: "PUT", json: body });
      q(".cfg-sent").textContent = cfg.published === false ? t("cfg_stored_unpublished", { v: cfg.desired_version })
        : t("cfg_sent", { v: cfg.desired_version });
      await refresh(true);
    } catch (e) {
      out.replaceChildren(...fieldErrors(e).map((m) => el("li", {}, m)));
    }
  });

  // rotating credentials reads the compound's gallery with them: admins only (gates.provision)
  if (can("gates.provision")) {
    const box = q(".cred-box");
    box.hidden = false;
    q(".rotate").addEventListener("click", () => { q(".rotate-confirm").hidden = false; });
    q(".rotate-no").addEventListener("click", () => { q(".rotate-confirm").hidden = true; });
    q(".rotate-yes").addEventListener("click", async () => {
      q(".rotate-confirm").hidden = true;
      const shown = q(".cred-new");
      try {
        const c = await api(`${path}/credentials`, { method: "POST" });
        shown.replaceChildren(el("p", { class: "warn" }, t("cred_once")),
          el("dl", { class: "pass-facts" },
            el("dt", {}, t("mqtt_user")), el("dd", { class: "cred-user" }, c.username),
            el("dt", {}, t("password")), el("dd", { class: "cred-password" }, c.password),
            el("dt", {}, t("topic_root")), el("dd", { class: "cred-topic" }, c.topic_root)));
      } catch (e) {
        shown.replaceChildren(el("p", { class: "error" }, t("error", { msg: e.message })));
      }
    });
  }
  q(".gp-close").addEventListener("click", close);
  refresh(true);
  // follow the gate while the panel is open: applied, refused or still behind
  const timer = setInterval(() => refresh(false), 1500);
  return { node: panel, stop: () => clearInterval(timer), config: () => lastCfg };
}

function renderDevices(view) {
  view.replaceChildren($("t-devices").content.cloneNode(true));
  let panel = null;
  const close = () => { if (panel) { panel.stop(); panel.node.remove(); panel = null; } };
  const open = (gateId) => {
    close();
    panel = gatePanel(gateId, close);
    $("gate-panel-slot").replaceChildren(panel.node);
    applyLanguage(panel.node);
  };
  const load = () => api("/gates").then((gates) => $("device-rows").replaceChildren(...gates.map((g) => deviceRow(g, open))))
    .catch((e) => $("device-rows").replaceChildren(el("tr", {}, el("td", { class: "error" }, t("error", { msg: e.message })))));
  load();
  const timer = setInterval(load, 5000);
  app.cleanup.push(() => clearInterval(timer), close);
}
