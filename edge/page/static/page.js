// The gate's status page: log in, then the live feed (server-sent events), health every 2 s and
// the local open. Every text from the gate goes in with textContent: a name is never markup.
"use strict";

const TEXT = {
  en: {
    title: "Menwei gate", login: "Log in", logout: "Log out", user: "User", password: "Password",
    live: "Live decisions", health: "Health", open: "Local open", reason: "Reason",
    reason_hint: "why the door is opened (logged with your name)", open_button: "Open the door",
    unknown: "unknown", granted: "granted", denied: "denied", alert: "alert",
    door_event: "door", override: "opened by", connected: "live", reconnecting: "reconnecting…",
    starting: "the gate is starting…", opened: "door opened (event #{seq})",
    bad_login: "wrong user or password", throttled: "too many failed logins: try again in {s} s",
    fps: "frames/s", latency: "latency (ms)", outbox: "outbox waiting", online: "server link",
    camera: "camera", thermal: "thermal sensor", door: "lock", door_open: "door leaf", fire: "fire alarm",
    exit: "exit button", decisions: "decisions", yes: "yes", no: "no", open_: "open", closed: "closed",
    near_full: "nearly full",
  },
  zh: {
    title: "门卫 闸机", login: "登录", logout: "退出", user: "用户名", password: "密码",
    live: "实时通行", health: "运行状态", open: "本地开门", reason: "原因",
    reason_hint: "开门原因（与您的用户名一起记录）", open_button: "开门",
    unknown: "未识别", granted: "通过", denied: "拒绝", alert: "警报",
    door_event: "门", override: "开门人", connected: "实时", reconnecting: "正在重新连接…",
    starting: "闸机正在启动…", opened: "门已打开（事件 #{seq}）",
    bad_login: "用户名或密码错误", throttled: "登录失败次数过多，请 {s} 秒后再试",
    fps: "帧率", latency: "延迟（毫秒）", outbox: "待发送事件", online: "服务器连接",
    camera: "摄像头", thermal: "测温传感器", door: "门锁", door_open: "门扇", fire: "火警",
    exit: "出门按钮", decisions: "判定次数", yes: "是", no: "否", open_: "开", closed: "关",
    near_full: "将满",
  },
};
// reason codes (menwei/wire.py Reason) a guard reads in their own words; others show as sent
const REASONS = {
  en: { resident_recognised: "resident recognised", unknown_face: "unknown face", fever: "fever",
        temperature_unavailable: "no temperature", local_open: "local open", remote_open: "remote open",
        passback: "anti-passback", forced_open: "forced open", held_open: "held open",
        fire_alarm: "fire alarm", exit_request: "exit button", visitor_pass: "visitor pass" },
  zh: { resident_recognised: "住户已识别", unknown_face: "陌生人", fever: "发热",
        temperature_unavailable: "无体温读数", local_open: "本地开门", remote_open: "远程开门",
        passback: "防潜回", forced_open: "强行开门", held_open: "门未关",
        fire_alarm: "火警", exit_request: "出门按钮", visitor_pass: "访客通行证" },
};
const KEPT = 50;

function pickLanguage() {
  const saved = localStorage.getItem("menwei-lang");
  if (saved === "en" || saved === "zh") return saved;
  const first = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return first.toLowerCase().startsWith("zh") ? "zh" : "en";
}

const page = { lang: pickLanguage(), items: [], source: null, timer: null, state: null };
const $ = (id) => document.getElementById(id);
const t = (key, vars) => (TEXT[page.lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => (vars || {})[k]);

function applyLanguage() {
  document.documentElement.lang = page.lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-ph]")) el.placeholder = t(el.dataset.i18nPh);
  $("lang").textContent = page.lang === "zh" ? "English" : "中文";
  renderItems();
  renderHealth();
}

async function call(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = {};
  try { data = await r.json(); } catch (_) { /* an empty or non-JSON answer */ }
  return { status: r.status, data, headers: r.headers };
}

function showLogin() {
  stopLive();
  $("main").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login").hidden = false;
}

function showMain(user) {
  $("login").hidden = true;
  $("main").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = user;
  startLive();
}

// ---- live feed
function startLive() {
  stopLive();
  page.items = [];
  renderItems();
  const source = new EventSource("/events");
  page.source = source;
  for (const kind of ["decision", "door", "override", "pass"]) {
    source.addEventListener(kind, (e) => addItem(JSON.parse(e.data)));
  }
  source.onopen = () => { $("live-status").textContent = t("connected"); };
  source.onerror = async () => {
    $("live-status").textContent = t("reconnecting");
    if (source.readyState === EventSource.CLOSED) {  // refused (e.g. the session ran out)
      const me = await call("GET", "/api/me");
      if (me.status === 401) showLogin(); else setTimeout(startLive, 2000);
    }
  };
  refreshHealth();
  page.timer = setInterval(refreshHealth, 2000);
}

function stopLive() {
  if (page.source) page.source.close();
  if (page.timer) clearInterval(page.timer);
  page.source = null;
  page.timer = null;
}

function addItem(item) {
  if (page.items.some((i) => i.id === item.id)) return;  // a reconnect resends nothing twice
  page.items.unshift(item);
  page.items.length = Math.min(page.items.length, KEPT);
  renderItems();
}

function reasonText(code) {
  return REASONS[page.lang][code] || code;
}

function renderItems() {
  const list = $("decisions");
  list.replaceChildren(...page.items.map(renderItem));
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function renderItem(item) {
  const li = el("li", item.kind);
  li.dataset.id = item.id;
  const img = el("img", "face");
  img.alt = "";
  if (item.face) img.src = item.face;
  li.append(img);
  const head = el("div");
  if (item.kind === "decision") {
    head.append(el("span", "name", item.name || item.identity || t("unknown")),
                el("span", "verdict " + item.decision, t(item.decision)));
  } else if (item.kind === "override") {
    head.append(el("span", "name", `${t("override")} ${item.operator}`), el("span", "verdict granted", t("granted")));
  } else {
    head.append(el("span", "name", t("door_event")), el("span", "verdict alert", reasonText(item.reason || "")));
  }
  const details = [];
  if (item.temperature_c != null) details.push(`${item.temperature_c.toFixed(1)} °C`);
  else if (item.temperature_status) details.push(item.temperature_status);
  if (item.reasons) details.push(item.reasons.map(reasonText).join(", "));
  if (item.kind === "override") details.push(item.reason);
  const when = new Date(item.at * 1000).toLocaleTimeString(page.lang === "zh" ? "zh-CN" : "en-GB");
  li.append(head, el("div", "reasons", details.join(" · ")), el("div", "when", when));
  return li;
}

// ---- health
async function refreshHealth() {
  const r = await call("GET", "/api/state");
  if (r.status === 401) { showLogin(); return; }
  page.state = r.data;
  renderHealth();
}

function renderHealth() {
  const s = page.state;
  const dl = $("health-list");
  if (!s) { dl.replaceChildren(); return; }
  if (s.starting) { dl.replaceChildren(el("dt", "", t("starting"))); return; }
  const yn = (v) => (v == null ? "–" : t(v ? "yes" : "no"));
  const lat = Object.entries(s.latency_ms || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "–";
  const ob = s.outbox || {};
  const io = s.door_io || {};
  const rows = [
    ["fps", s.fps != null ? s.fps : "–"],
    ["latency", lat],
    ["outbox", `${ob.depth != null ? ob.depth : "–"}${ob.near_full ? " (" + t("near_full") + ")" : ""}`],
    ["online", yn(s.online)],
    ["camera", (s.camera || {}).state],
    ["thermal", s.thermal],
    ["door", s.door],
    ["door_open", io.door_open == null ? "–" : t(io.door_open ? "open_" : "closed")],
    ["fire", yn(io.fire_alarm)],
    ["exit", yn(io.exit_pressed)],
    ["decisions", (s.counters || {}).decisions],
  ];
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dd = el("dd", "", String(v));
    dd.dataset.key = k;
    return [el("dt", "", t(k)), dd];
  }));
}

// ---- forms
async function onLogin(e) {
  e.preventDefault();
  $("login-error").textContent = "";
  const r = await call("POST", "/api/login", { user: $("user").value, password: $("password").value });
  $("password").value = "";
  if (r.status === 200) { showMain(r.data.user); return; }
  if (r.status === 401) $("login-error").textContent = t("bad_login");
  else if (r.status === 429) $("login-error").textContent = t("throttled", { s: r.headers.get("Retry-After") });
  else $("login-error").textContent = r.data.detail || `HTTP ${r.status}`;
}

async function onOpen(e) {
  e.preventDefault();
  const out = $("open-result");
  out.className = "";
  out.textContent = "…";
  const r = await call("POST", "/api/open", { reason: $("reason").value });
  if (r.status === 401) { showLogin(); return; }
  if (r.status === 200) {
    out.textContent = t("opened", { seq: r.data.seq });
    $("reason").value = "";
  } else {
    out.className = "error";
    out.textContent = r.data.detail || `HTTP ${r.status}`;
  }
}

async function onLogout() {
  await call("POST", "/api/logout");
  showLogin();
}

async function boot() {
  $("lang").addEventListener("click", () => {
    page.lang = page.lang === "zh" ? "en" : "zh";
    localStorage.setItem("menwei-lang", page.lang);
    applyLanguage();
  });
  $("login-form").addEventListener("submit", onLogin);
  $("open-form").addEventListener("submit", onOpen);
  $("logout").addEventListener("click", onLogout);
  applyLanguage();
  const me = await call("GET", "/api/me");
  if (me.status === 200) showMain(me.data.user); else showLogin();
}

document.addEventListener("DOMContentLoaded", boot);
