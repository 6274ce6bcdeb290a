// Part of the web UI (app.js holds the frame: api(), el(), t(), routing); loaded after it.
// A community office's registry (compounds … residents, photos and enrolment, bulk import),
// visitor passes, and the audit log for admins. Every name, id and message from the server goes
// in through el() (textContent); photos are fetched with the token and shown as blob: URLs.
"use strict";

const STATUSES = ["resident", "tenant", "visitor", "quarantine", "moved_out", "banned"];
const DATED = new Set(["visitor", "quarantine"]); // these need an end date (the API refuses them without)

// datetime-local value ↔ ISO with an offset (the API refuses a time without one)
function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
const fromLocalInput = (v) => (v ? new Date(v).toISOString() : null);
// a form's control by name (form.id, form.name and form.action are the form's own attributes)
const control = (form, name) => form.elements.namedItem(name);

function field(labelKey, input) {
  return el("label", {}, el("span", { "data-i18n": labelKey }, t(labelKey)), input);
}

// the compound picker every registry page starts with; the choice is kept between the pages
async function siteChooser(box, onPick) {
  const sel = el("select", { name: "site", class: "reg-site" });
  box.append(field("site", sel));
  const sites = await api("/sites");
  sel.append(...sites.map((s) => el("option", { value: s.id }, s.name ? `${s.name} (${s.id})` : s.id)));
  if (app.regSite && sites.some((s) => s.id === app.regSite)) sel.value = app.regSite;
  const pick = () => { app.regSite = sel.value; onPick(sel.value); };
  sel.addEventListener("change", pick);
  if (sites.length) pick(); else box.append(el("p", { class: "muted" }, t("nothing")));
  return sel;
}

function statusText(r) {
  const dates = [r.valid_from ? t("from_date", { d: fmtTime(r.valid_from) }) : null,
                 r.valid_until ? t("until_date", { d: fmtTime(r.valid_until) }) : null].filter(Boolean).join(" ");
  return dates ? `${t(`status_${r.status}`)} (${dates})` : t(`status_${r.status}`);
}

function statusFields(status, from, until) {
  const select = el("select", { name: "status" }, ...STATUSES.map((s) => el("option", { value: s }, t(`status_${s}`))));
  select.value = status || "resident";
  const vf = el("input", { name: "valid_from", type: "datetime-local" });
  const vu = el("input", { name: "valid_until", type: "datetime-local" });
  if (from) vf.value = toLocalInput(new Date(from));
  if (until) vu.value = toLocalInput(new Date(until));
  const hint = el("p", { class: "muted status-hint" });
  const sync = () => {
    vu.required = DATED.has(select.value);
    hint.textContent = select.value === "quarantine" ? t("quarantine_hint")
      : select.value === "visitor" ? t("visitor_hint") : "";
  };
  select.addEventListener("change", sync);
  sync();
  return [field("status", select), field("valid_from", vf), field("valid_until", vu), hint];
}

// ------------------------------------------------------------------ photos and enrolment
async function uploadPhoto(residentId, file) {
  // the 422 of a refused photo carries the per-file results, so the answer is read whatever its status
  const body = new FormData();
  body.append("file", file, file.name);
  const r = await fetch(`/api/v1/residents/${encodeURIComponent(residentId)}/photos`,
                        { method: "POST", headers: { Authorization: `Bearer ${app.token}` }, body });
  if (r.status === 401) { logout(t("expired")); throw new ApiError(401, t("expired")); }
  let out = null;
  try { out = await r.json(); } catch (_) { /* not JSON */ }
  if (out && Array.isArray(out.results)) return out;
  return { enrolled: 0, results: [{ name: file.name, enrolled: false, code: (out && out.code) || `http_${r.status}`,
                                    message: (out && out.detail) || r.statusText }] };
}

function qualityText(q) {
  if (!q) return "";
  return t("quality_line", { px: q.face_px, sharp: q.sharpness, yaw: q.yaw, roll: q.roll_deg, light: q.brightness });
}

function enrolResultList(upload) {
  return el("ul", { class: "enrol-results" }, ...upload.results.map((x) => (x.enrolled
    ? el("li", { class: "enrol ok", "data-code": "enrolled" },
      el("strong", {}, t("face_found")), " ", el("span", { class: "file" }, x.name),
      el("span", { class: "quality" }, qualityText(x.quality)))
    : el("li", { class: "enrol refused", "data-code": x.code || "" },
      el("strong", {}, t("photo_refused")), " ", el("span", { class: "file" }, x.name),
      el("span", { class: "why" }, `${t(`face_${x.code}`) === `face_${x.code}` ? x.code : t(`face_${x.code}`)}`
        + (x.message ? ` — ${x.message}` : ""))))));
}

function photoThumb(residentId, p, urls) {
  const img = el("img", { class: "thumb", alt: p.source_name || "", "data-photo": p.id });
  api(`/residents/${encodeURIComponent(residentId)}/photos/${p.id}`, { raw: true })
    .then((r) => r.blob()).then((b) => { const u = URL.createObjectURL(b); urls.push(u); img.src = u; })
    .catch(() => img.classList.add("none"));
  return el("figure", { class: "photo" }, img,
    el("figcaption", { class: "muted" }, `${fmtTime(p.created_at)}${p.quality ? ` · ${qualityText(p.quality)}` : ""}`));
}

// ------------------------------------------------------------------ registry
function renderRegistry(view) {
  const urls = []; // blob: URLs of the photos shown, released when the page goes
  app.cleanup.push(() => { for (const u of urls.splice(0)) URL.revokeObjectURL(u); });
  const state = { site: null, household: null, resident: null };
  const head = el("section", { class: "reg-head" }, el("h2", { "data-i18n": "nav_registry" }, t("nav_registry")));
  const buildings = el("ul", { id: "reg-buildings", class: "picklist" });
  const units = el("ul", { id: "reg-units", class: "picklist" });
  const households = el("ul", { id: "reg-households", class: "picklist" });
  const browse = el("section", { id: "reg-browse" },
    el("h3", { "data-i18n": "buildings" }, t("buildings")), buildings,
    el("h3", { "data-i18n": "units" }, t("units")), units,
    el("h3", { "data-i18n": "households" }, t("households")), households);
  const search = el("input", { name: "q", type: "search", placeholder: t("search_residents") });
  const scopeLine = el("p", { class: "muted", id: "reg-scope" });
  const rows = el("tbody", { id: "reg-resident-rows" });
  const listError = el("p", { class: "error", role: "alert" });
  const count = el("p", { class: "muted", id: "reg-count" });
  const moreButton = el("button", { type: "button", id: "reg-more", hidden: true, onclick: () => loadResidents(true) }, t("more"));
  const list = el("section", { id: "reg-residents" },
    el("h3", { "data-i18n": "residents" }, t("residents")), scopeLine, search,
    el("table", { class: "log" }, el("thead", {}, el("tr", {},
      el("th", { "data-i18n": "resident_id" }, t("resident_id")), el("th", { "data-i18n": "name" }, t("name")),
      el("th", { "data-i18n": "placement" }, t("placement")), el("th", { "data-i18n": "status" }, t("status")),
      el("th", { "data-i18n": "photos" }, t("photos")))), rows), count, moreButton, listError,
    el("button", { type: "button", id: "reg-new", onclick: () => showAdd() }, t("add_resident")));
  const detail = el("section", { id: "reg-detail" });
  const importBox = importSection(() => state.site, () => loadResidents());
  view.replaceChildren(head, el("div", { class: "reg-cols" }, browse, list, detail), importBox);

  const pickList = (ul, items, label, onPick) => {
    ul.replaceChildren(...(items.length ? items.map((x) => el("li", {},
      el("button", { type: "button", "data-id": x.id, onclick: (ev) => {
        for (const b of ul.querySelectorAll("button")) b.classList.toggle("current", b === ev.currentTarget);
        onPick(x);
      } }, label(x)))) : [el("li", { class: "muted" }, t("nothing"))]));
  };

  let listSeq = 0; // an answer to an older query (another household, an earlier search) is dropped
  let listed = 0;
  const loadResidents = async (more) => {
    if (!state.site) return;
    const seq = ++listSeq;
    const q = new URLSearchParams({ site: state.site, limit: "100", offset: String(more === true ? listed : 0) });
    if (state.household) q.set("household_id", state.household.id);
    if (search.value.trim()) q.set("q", search.value.trim());
    scopeLine.textContent = state.household ? state.household.label : t("whole_site");
    listError.textContent = "";
    try {
      const page = await api(`/residents?${q}`);
      if (seq !== listSeq) return;
      if (more !== true) { rows.replaceChildren(); listed = 0; }
      rows.append(...page.items.map((r) => el("tr", { "data-resident": r.id, class: `status-${r.status}`,
        onclick: () => showResident(r.id) },
        el("td", {}, r.id), el("td", {}, r.name),
        el("td", {}, [r.building, r.unit, r.household].filter(Boolean).join(" / ") || "—"),
        el("td", {}, statusText(r)), el("td", {}, String(r.photos)))));
      listed += page.items.length;
      if (!listed) rows.append(el("tr", {}, el("td", { class: "muted", colspan: 5 }, t("nothing"))));
      count.textContent = t("shown_of", { n: listed, total: page.total });
      moreButton.hidden = listed >= page.total || !page.items.length;
    } catch (e) { listError.textContent = t("error", { msg: e.message }); }
  };
  search.addEventListener("input", () => { clearTimeout(search.timer); search.timer = setTimeout(() => loadResidents(), 300); });

  const pickHousehold = (h, u, b) => {
    state.household = { id: h.id, label: `${b.name} / ${u.name} / ${h.name}` };
    loadResidents();
    if (!state.resident) showAdd();
  };
  const pickUnit = async (u, b) => {
    state.unit = [u, b];
    households.replaceChildren();
    pickList(households, await api(`/units/${u.id}/households`), (h) => `${h.name} (${h.residents})`, (h) => pickHousehold(h, u, b));
    const current = state.household && households.querySelector(`button[data-id="${state.household.id}"]`);
    if (current) current.classList.add("current");
  };
  // a household's count of residents changes with an addition
  const refreshHouseholds = () => { if (state.unit) pickUnit(...state.unit).catch(() => {}); };
  const pickBuilding = async (b) => {
    state.unit = null;
    units.replaceChildren();
    households.replaceChildren();
    pickList(units, await api(`/buildings/${b.id}/units`), (u) => u.name, (u) => pickUnit(u, b));
  };

  // a new resident, placed in the household picked on the left (or none), with an optional photo
  const showAdd = () => {
    state.resident = null;
    const placed = state.household;
    const out = el("div", { id: "reg-add-result" });
    const form = el("form", { id: "reg-add", class: "stack" },
      el("h3", { "data-i18n": "add_resident" }, t("add_resident")),
      field("resident_id", el("input", { name: "id", required: true, maxlength: 64, pattern: "[A-Za-z0-9_.\\-]+" })),
      field("name", el("input", { name: "name", required: true, maxlength: 200 })),
      el("p", { class: "muted", id: "reg-add-household" },
        `${t("household")}: ${placed ? placed.label : t("no_household")}`),
      ...statusFields("resident"),
      field("photo", el("input", { name: "photo", type: "file", accept: "image/jpeg,image/png" })),
      el("button", { type: "submit" }, t("save")), el("p", { class: "error", role: "alert" }), out);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = form.querySelector(".error");
      err.textContent = "";
      out.replaceChildren();
      const body = { id: control(form, "id").value.trim(), site_id: state.site, name: control(form, "name").value.trim(),
                     status: form.status.value,
                     valid_from: fromLocalInput(form.valid_from.value), valid_until: fromLocalInput(form.valid_until.value) };
      if (placed) body.household_id = placed.id;
      let r;
      try { r = await api("/residents", { method: "POST", json: body }); } catch (e) {
        err.textContent = t("error", { msg: e.message });
        return;
      }
      const file = form.photo.files[0];
      const upload = file ? await uploadPhoto(r.id, file) : null;
      await showResident(r.id, upload);
      loadResidents();
      refreshHouseholds();
    });
    detail.replaceChildren(form);
  };

  const showResident = async (id, upload) => {
    let r, photos;
    try {
      r = await api(`/residents/${encodeURIComponent(id)}`);
      photos = await api(`/residents/${encodeURIComponent(id)}/photos`);
    } catch (e) { detail.replaceChildren(el("p", { class: "error" }, t("error", { msg: e.message }))); return; }
    state.resident = id;
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    const result = el("div", { id: "reg-photo-result" }, upload ? enrolResultList(upload) : null);
    const statusForm = el("form", { id: "reg-status-form", class: "stack" },
      el("h4", { "data-i18n": "change_status" }, t("change_status")),
      ...statusFields(r.status, r.valid_from, r.valid_until),
      el("button", { type: "submit" }, t("save")), el("p", { class: "error", role: "alert" }));
    statusForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = statusForm.querySelector(".error");
      try {
        await api(`/residents/${encodeURIComponent(id)}`, { method: "PATCH", json: {
          status: statusForm.status.value, valid_from: fromLocalInput(statusForm.valid_from.value),
          valid_until: fromLocalInput(statusForm.valid_until.value) } });
        await showResident(id);
        loadResidents();
      } catch (e) { err.textContent = t("error", { msg: e.message }); }
    });
    const photoForm = el("form", { id: "reg-photo-form", class: "stack" },
      field("add_photo", el("input", { name: "photo", type: "file", accept: "image/jpeg,image/png", required: true })),
      el("button", { type: "submit" }, t("upload")));
    photoForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = photoForm.photo.files[0];
      if (!file) return;
      result.replaceChildren(el("p", { class: "muted" }, t("enrolling")));
      await showResident(id, await uploadPhoto(id, file));
      loadResidents();
    });
    detail.replaceChildren(
      el("h3", { class: "resident-name" }, `${r.name} (${r.id})`),
      el("p", { id: "reg-placement" }, [r.building, r.unit, r.household].filter(Boolean).join(" / ") || t("no_household")),
      el("p", { id: "reg-status", class: `status-${r.status}` }, statusText(r)),
      result,
      el("h4", { "data-i18n": "photos" }, t("photos")),
      el("div", { id: "reg-photos", class: "photos" },
        ...(photos.length ? photos.map((p) => photoThumb(id, p, urls)) : [el("p", { class: "muted" }, t("no_photos"))])),
      photoForm, statusForm,
      el("button", { type: "button", onclick: () => showAdd() }, t("add_resident")));
  };

  siteChooser(head, async (site) => {
    state.site = site;
    state.household = null;
    state.resident = null;
    state.unit = null;
    units.replaceChildren();
    households.replaceChildren();
    try {
      pickList(buildings, await api(`/sites/${encodeURIComponent(site)}/buildings`), (b) => b.name, pickBuilding);
    } catch (e) { buildings.replaceChildren(el("li", { class: "error" }, t("error", { msg: e.message }))); }
    loadResidents();
    showAdd();
  }).catch((e) => head.append(el("p", { class: "error" }, t("error", { msg: e.message }))));
}

// bulk import: the CSV the imports API takes, an optional zip of photos, and the per-row report
function importSection(site, onDone) {
  const report = el("tbody", { id: "reg-import-rows" });
  const summary = el("p", { id: "reg-import-summary" });
  const form = el("form", { id: "reg-import", class: "filters" },
    field("csv_file", el("input", { name: "csv", type: "file", accept: ".csv,text/csv", required: true })),
    field("photos_zip", el("input", { name: "photos", type: "file", accept: ".zip,application/zip" })),
    el("label", { class: "check" }, el("input", { name: "create_units", type: "checkbox" }),
      " ", el("span", { "data-i18n": "create_units" }, t("create_units"))),
    el("button", { type: "submit" }, t("import")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    summary.className = "muted";
    summary.textContent = t("importing");
    report.replaceChildren();
    const body = new FormData();
    body.append("csv", form.csv.files[0], form.csv.files[0].name);
    if (form.photos.files[0]) body.append("photos", form.photos.files[0], form.photos.files[0].name);
    body.append("create_units", form.create_units.checked ? "true" : "false");
    try {
      const out = await api(`/sites/${encodeURIComponent(site())}/imports`, { method: "POST", body });
      summary.className = out.kept === out.total ? "ok" : "error";
      summary.textContent = t("import_summary", { kept: out.kept, total: out.total, refused: out.total - out.kept });
      report.replaceChildren(...out.rows.map((x) => {
        const kept = x.result === "enrolled" || x.result === "no_photo";
        return el("tr", { "data-line": x.line, class: kept ? "kept" : "refused" },
          el("td", {}, String(x.line)), el("td", {}, x.resident_id || "—"),
          el("td", { class: "outcome" }, kept ? t(x.action === "updated" ? "row_updated" : "row_created") : t("row_refused")),
          el("td", { class: "result" }, t(`import_${x.result}`)),
          el("td", { class: "detail" }, x.detail || ""));
      }));
      onDone();
    } catch (e) { summary.className = "error"; summary.textContent = t("error", { msg: e.message }); }
  });
  return el("section", { id: "reg-import-box" },
    el("h3", { "data-i18n": "bulk_import" }, t("bulk_import")),
    el("p", { class: "muted", "data-i18n": "import_format" }, t("import_format")),
    form, summary,
    el("table", { class: "log" }, el("thead", {}, el("tr", {},
      el("th", { "data-i18n": "csv_line" }, t("csv_line")), el("th", { "data-i18n": "resident_id" }, t("resident_id")),
      el("th", { "data-i18n": "outcome" }, t("outcome")), el("th", { "data-i18n": "result" }, t("result")),
      el("th", { "data-i18n": "reason" }, t("reason")))), report));
}

// ------------------------------------------------------------------ visitor passes
function passState(p, now) {
  if (p.revoked_at) return "revoked";
  if (new Date(p.valid_until) <= now) return "expired";
  if (new Date(p.valid_from) > now) return "not_yet";
  return "valid";
}

function renderPasses(view) {
  const names = new Map(); // host id → name, for the list and the printout
  const head = el("section", { class: "pass-head" }, el("h2", { "data-i18n": "nav_passes" }, t("nav_passes")));
  const hosts = el("datalist", { id: "pass-hosts" });
  const now = new Date();
  const form = el("form", { id: "pass-form", class: "filters" },
    field("host", el("input", { name: "host", list: "pass-hosts", required: true, autocomplete: "off" })), hosts,
    field("visitor", el("input", { name: "visitor", maxlength: 200, placeholder: t("visitor_hint_name") })),
    field("valid_from", el("input", { name: "valid_from", type: "datetime-local", required: true,
                                      value: toLocalInput(now) })),
    field("valid_until", el("input", { name: "valid_until", type: "datetime-local", required: true,
                                       value: toLocalInput(new Date(now.getTime() + 24 * 3600e3)) })),
    el("button", { type: "submit" }, t("issue_pass")));
  const formError = el("p", { class: "error", role: "alert", id: "pass-error" });
  const picker = el("div", { class: "filters" });
  head.append(picker, form, formError);
  const card = el("section", { id: "pass-card", hidden: true });
  const rows = el("tbody", { id: "pass-rows" });
  const listError = el("p", { class: "error", role: "alert" });
  const list = el("section", { id: "pass-list" }, el("h3", { "data-i18n": "passes" }, t("passes")),
    el("table", { class: "log" }, el("thead", {}, el("tr", {},
      el("th", { "data-i18n": "host" }, t("host")), el("th", { "data-i18n": "visitor" }, t("visitor")),
      el("th", { "data-i18n": "valid_from" }, t("valid_from")), el("th", { "data-i18n": "valid_until" }, t("valid_until")),
      el("th", { "data-i18n": "state" }, t("state")), el("th", { "data-i18n": "issued_by" }, t("issued_by")), el("th", {}))),
    rows), listError);
  view.replaceChildren(head, card, list);
  let site = null;
  const hostName = (id) => names.get(id) || id;

  const load = async () => {
    listError.textContent = "";
    try {
      const passes = await api(`/sites/${encodeURIComponent(site)}/passes?active_only=false&limit=200`);
      const at = new Date();
      rows.replaceChildren(...passes.map((p) => {
        const st = passState(p, at);
        const cell = el("td", { class: "actions" });
        if (st === "valid" || st === "not_yet") {
          cell.append(el("button", { type: "button", class: "revoke", onclick: () => confirmRevoke(p, cell) }, t("revoke")));
        }
        return el("tr", { "data-pass": p.pass_id, class: `pass ${st}` },
          el("td", {}, `${hostName(p.host_resident_id)} (${p.host_resident_id})`), el("td", {}, p.note || "—"),
          el("td", {}, fmtTime(p.valid_from)), el("td", {}, fmtTime(p.valid_until)),
          el("td", { class: `state ${st}` }, t(`pass_${st}`) + (p.revoked_by ? ` (${p.revoked_by})` : "")),
          el("td", {}, p.created_by || "—"), cell);
      }));
      if (!passes.length) rows.append(el("tr", {}, el("td", { class: "muted", colspan: 7 }, t("nothing"))));
    } catch (e) { listError.textContent = t("error", { msg: e.message }); }
  };

  // revoking is final: the button asks once more, in place
  const confirmRevoke = (p, cell) => {
    const ask = el("span", { class: "confirm" }, el("span", {}, t("revoke_confirm")), " ",
      el("button", { type: "button", class: "revoke-yes", onclick: async () => {
        try {
          await api(`/passes/${p.pass_id}/revoke`, { method: "POST" });
          load();
        } catch (e) { ask.replaceWith(el("span", { class: "error" }, t("error", { msg: e.message }))); }
      } }, t("revoke_yes")), " ",
      el("button", { type: "button", class: "revoke-no", onclick: () => load() }, t("cancel")));
    cell.replaceChildren(ask);
  };

  const showCard = (p) => {
    card.hidden = false;
    card.replaceChildren(
      el("h2", { "data-i18n": "visitor_pass" }, t("visitor_pass")),
      el("img", { id: "pass-qr", alt: t("visitor_pass"), src: `data:image/png;base64,${p.qr_png_base64}` }),
      el("dl", { class: "pass-facts" },
        el("dt", {}, t("visitor")), el("dd", { id: "pass-visitor" }, p.note || "—"),
        el("dt", {}, t("host")), el("dd", { id: "pass-host" }, `${hostName(p.host_resident_id)} (${p.host_resident_id})`),
        el("dt", {}, t("site")), el("dd", {}, p.site_id),
        el("dt", {}, t("validity")), el("dd", { id: "pass-validity" }, `${fmtTime(p.valid_from)} – ${fmtTime(p.valid_until)}`)),
      el("p", { class: "muted no-print" }, t("pass_once")),
      el("button", { type: "button", id: "pass-print", class: "no-print", onclick: () => window.print() }, t("print")));
  };

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formError.textContent = "";
    try {
      const p = await api(`/sites/${encodeURIComponent(site)}/passes`, { method: "POST", json: {
        host_resident_id: form.host.value.trim(), note: form.visitor.value.trim() || null,
        valid_from: fromLocalInput(form.valid_from.value), valid_until: fromLocalInput(form.valid_until.value) } });
      showCard(p);
      load();
    } catch (e) { formError.textContent = t("error", { msg: e.message }); }
  });

  siteChooser(picker, async (s) => {
    site = s;
    card.hidden = true;
    names.clear();
    try {
      const page = await api(`/residents?site=${encodeURIComponent(s)}&limit=1000`);
      for (const r of page.items) names.set(r.id, r.name);
      hosts.replaceChildren(...page.items.filter((r) => !["moved_out", "banned"].includes(r.status))
        .map((r) => el("option", { value: r.id }, r.name)));
    } catch (e) { formError.textContent = t("error", { msg: e.message }); }
    load();
  }).catch((e) => head.append(el("p", { class: "error" }, t("error", { msg: e.message }))));
}

// ------------------------------------------------------------------ audit log (admins)
const AUDIT_ACTIONS = ["read", "create", "update", "delete", "import", "issue_pass", "revoke_pass", "login",
                       "login_failed", "ack", "command", "set_control_level", "publish"];

function auditDetail(d) {
  if (!d) return "";
  return Object.entries(d).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
}

function renderAudit(view) {
  const sites = el("select", { name: "site" }, el("option", { value: "" }, t("all_sites")));
  const form = el("form", { id: "audit-filters", class: "filters" },
    field("user", el("input", { name: "user" })),
    field("action", el("input", { name: "action", list: "audit-actions" })),
    el("datalist", { id: "audit-actions" }, ...AUDIT_ACTIONS.map((a) => el("option", { value: a }))),
    field("object_type", el("input", { name: "object_type" })),
    field("object_id", el("input", { name: "object_id" })),
    field("site", sites),
    field("since", el("input", { name: "since", type: "datetime-local" })),
    field("until", el("input", { name: "until", type: "datetime-local" })),
    field("page_size", el("select", { name: "limit" }, ...["20", "50", "100"].map((n) => el("option", { value: n }, n)))),
    el("label", { class: "check" }, el("input", { name: "reads", type: "checkbox" }), " ",
      el("span", { "data-i18n": "personal_reads" }, t("personal_reads"))),
    el("button", { type: "submit" }, t("search")));
  form.limit.value = "50";
  const rows = el("tbody", { id: "audit-rows" });
  const count = el("p", { class: "muted", id: "audit-count" });
  const more = el("button", { type: "button", id: "audit-more", hidden: true }, t("more"));
  view.replaceChildren(el("section", {}, el("h2", { "data-i18n": "nav_audit" }, t("nav_audit")), form,
    el("table", { class: "log audit" }, el("thead", {}, el("tr", {},
      el("th", { "data-i18n": "time" }, t("time")), el("th", { "data-i18n": "user" }, t("user")),
      el("th", { "data-i18n": "action" }, t("action")), el("th", { "data-i18n": "object" }, t("object")),
      el("th", { "data-i18n": "site" }, t("site")), el("th", { "data-i18n": "detail" }, t("detail")),
      el("th", { "data-i18n": "ip" }, t("ip")))), rows), count, more));
  api("/sites").then((list) => { for (const s of list) sites.append(el("option", { value: s.id }, s.name || s.id)); })
    .catch(() => {});
  let cursor = null;
  let shown = 0;
  let seq = 0; // a new search drops the answer of one still on its way
  const load = async (append) => {
    const mine = ++seq;
    if (!append) { rows.replaceChildren(); cursor = null; shown = 0; }
    const q = new URLSearchParams({ limit: form.limit.value });
    for (const k of ["user", "action", "object_type", "object_id", "site"]) {
      const v = control(form, k).value.trim();
      if (v) q.set(k, v);
    }
    if (form.reads.checked) q.set("action", "read");
    for (const k of ["since", "until"]) if (form[k].value) q.set(k, fromLocalInput(form[k].value));
    if (cursor) q.set("before_id", cursor);
    try {
      const page = await api(`/audit?${q}`);
      if (mine !== seq) return;
      rows.dataset.loaded = q.toString(); // the query these rows answer
      rows.append(...page.items.map((a) => el("tr", { "data-audit": a.id, class: `action-${a.action}` },
        el("td", {}, fmtTime(a.at)), el("td", {}, a.username || "—"), el("td", {}, a.action),
        el("td", {}, [a.object_type, a.object_id].filter(Boolean).join(" ") || "—"), el("td", {}, a.site_id || "—"),
        el("td", { class: "detail" }, auditDetail(a.detail)), el("td", {}, a.ip || ""))));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      count.textContent = t("shown", { n: shown });
    } catch (e) { count.textContent = t("error", { msg: e.message }); }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
  more.addEventListener("click", () => load(true));
  load(false);
}
