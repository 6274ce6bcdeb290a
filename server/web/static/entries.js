// Part of the web UI (app.js holds the frame: api(), el(), t(), routing); loaded after it.
// The entry log: filters, search by name, the gate's face crops (fetched with the token, shown
// as blob: URLs released when the rows or the page go), a resident's history, "mark as wrong"
// for officers, and who is inside each compound now. The review figures on the dashboard are here
// too (reviewFigures), so app.js only calls them.
"use strict";

const REVIEW_KINDS = ["wrong_person", "stranger", "missed_resident"];

// ------------------------------------------------------------------ entry log
function entryQuery(form, cursor) {
  const q = new URLSearchParams();
  for (const name of ["site", "gate", "resident", "decision"]) if (form[name].value) q.set(name, form[name].value);
  if (form.name.value.trim()) q.set("name", form.name.value.trim());
  for (const name of ["since", "until"]) if (form[name].value) q.set(name, new Date(form[name].value).toISOString());
  if (form.alerts_only.checked) q.set("alerts_only", "true");
  if (cursor) q.set("cursor", cursor);
  return q;
}

// blob: URLs of the crops on screen; released when the rows are replaced and when the page goes
// Crops are fetched when their row scrolls into view: fifty requests (each an audited read) for
// a page nobody scrolls would queue ahead of the page's own data on the browser's six connections.
function thumbs() {
  const urls = [];
  let round = 0; // a crop that arrives after its rows (or the page) went is dropped, not leaked
  const fetchCrop = (img) => {
    const mine = round;
    api(`/entries/${img.dataset.face}/face`, { raw: true })
      .then((r) => r.blob()).then((b) => {
        if (mine !== round) return;
        const u = URL.createObjectURL(b);
        urls.push(u);
        img.src = u;
      })
      .catch(() => img.classList.add("none")); // purged by retention meanwhile
  };
  const seen = new IntersectionObserver((changes) => {
    for (const c of changes) if (c.isIntersecting) { seen.unobserve(c.target); fetchCrop(c.target); }
  }, { rootMargin: "200px" });
  return {
    img(e) {
      const img = el("img", { class: "face log-face", alt: "", title: t("gate_crop"), "data-face": e.event_id });
      if (!e.has_face) img.classList.add("none"); else seen.observe(img);
      return img;
    },
    release() { round++; seen.disconnect(); for (const u of urls.splice(0)) URL.revokeObjectURL(u); },
  };
}

function reviewText(r) {
  return `${t("marked_wrong")}: ${t(`review_${r.kind}`)} (${r.by}, ${fmtTime(r.at)})` + (r.note ? ` — ${r.note}` : "");
}

// the officer's verdict on one row: shown to every reader, set and withdrawn by officers
function reviewCell(e, onChange) {
  const cell = el("td", { class: "review" });
  const show = () => {
    cell.replaceChildren();
    if (e.review) cell.append(el("span", { class: `review-mark ${e.review.kind}` }, reviewText(e.review)));
    if (!can("entries.review")) return;
    cell.append(el("button", { type: "button", class: "mark-wrong", onclick: () => cell.replaceChildren(form()) },
      t(e.review ? "change_review" : "mark_wrong")));
    if (e.review) {
      cell.append(el("button", { type: "button", class: "withdraw", onclick: async () => {
        try {
          await api(`/entries/${e.event_id}/review`, { method: "DELETE" });
          e.review = null;
          show();
          onChange();
        } catch (err) { cell.append(el("p", { class: "error" }, t("error", { msg: err.message }))); }
      } }, t("withdraw_review")));
    }
  };
  const form = () => {
    const kind = el("select", { name: "kind" },
      ...REVIEW_KINDS.map((k) => el("option", { value: k }, t(`review_${k}`))));
    if (e.review) kind.value = e.review.kind;
    else kind.value = e.resident_id ? "wrong_person" : "missed_resident";
    const note = el("input", { name: "note", maxlength: 500, placeholder: t("review_note") });
    if (e.review && e.review.note) note.value = e.review.note;
    const err = el("p", { class: "error", role: "alert" });
    const f = el("form", { class: "review-form" }, kind, note,
      el("button", { type: "submit" }, t("save")), el("button", { type: "button", onclick: show }, t("cancel")), err);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        e.review = await api(`/entries/${e.event_id}/review`, { method: "PUT",
                                                               json: { kind: kind.value, note: note.value || null } });
        show();
        onChange();
      } catch (x) { err.textContent = t("error", { msg: x.message }); }
    });
    return f;
  };
  show();
  return cell;
}

function personCell(e, onHistory) {
  // a named resident's name opens her history; the others are plain text
  if (!e.resident_id || !e.resident_name) return el("td", {}, personName(e));
  return el("td", {}, el("button", { type: "button", class: "link history", "data-resident": e.resident_id,
                                     onclick: () => onHistory(e.resident_id, e.resident_name) }, e.resident_name));
}

function entryRow(e, faces, onHistory) {
  const row = el("tr", { class: e.decision, "data-event": e.event_id },
    el("td", {}, faces.img(e)), el("td", {}, fmtTime(e.captured_at)), el("td", {}, e.gate_id),
    personCell(e, onHistory), el("td", { class: `verdict ${e.decision}` }, t(e.decision)),
    el("td", {}, e.reasons.map(code).join(" · ")), el("td", {}, temperature(e)));
  row.append(reviewCell(e, () => row.classList.toggle("reviewed", !!e.review)));
  row.classList.toggle("reviewed", !!e.review);
  return row;
}

function siteOptions(select, list, first) {
  if (first) select.append(el("option", { value: "" }, first));
  for (const s of list) select.append(el("option", { value: s.id }, s.name || s.id));
}

function renderEntries(view) {
  view.replaceChildren($("t-entries").content.cloneNode(true));
  const form = $("entry-filters");
  const rows = $("entry-rows");
  const more = $("more");
  const faces = thumbs();
  app.cleanup.push(() => faces.release());
  let cursor = null;
  let shown = 0;
  let asked = 0; // a slow answer to an older search must not land after a newer one
  const load = async (append) => {
    const mine = ++asked;
    if (!append) { cursor = null; shown = 0; }
    try {
      const page = await api(`/entries?limit=50&${entryQuery(form, cursor)}`);
      if (mine !== asked) return;
      if (!append) { rows.replaceChildren(); faces.release(); }
      rows.append(...page.items.map((e) => entryRow(e, faces, history)));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      $("entry-count").textContent = shown ? t("shown", { n: shown }) : t("no_entries");
    } catch (e) { if (mine === asked) $("entry-count").textContent = t("error", { msg: e.message }); }
  };
  // a resident's history: the log filtered on her id, with a way back
  const banner = $("history-of");
  const history = (residentId, name) => {
    form.resident.value = residentId;
    form.name.value = "";
    banner.replaceChildren(el("strong", {}, t("history_of", { name })),
      el("button", { type: "button", class: "link", onclick: () => { form.resident.value = ""; banner.hidden = true; load(false); } },
        t("whole_log")));
    banner.hidden = false;
    load(false);
    window.scrollTo(0, 0);
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); banner.hidden = !form.resident.value; load(false); });
  more.addEventListener("click", () => load(true));
  const exportButton = $("export");
  exportButton.hidden = !can("entries.export");
  exportButton.addEventListener("click", async () => {
    try {
      const r = await api(`/entries/export.csv?${entryQuery(form, null)}`, { raw: true });
      const a = el("a", { href: URL.createObjectURL(await r.blob()), download: "entries.csv" });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) { $("entry-count").textContent = t("error", { msg: e.message }); }
  });
  const inside = setupInside(history);
  api("/sites").then((list) => {
    siteOptions(form.site, list, t("all_sites"));
    inside(list);
  }).catch(() => {});
  load(false);
}

// ------------------------------------------------------------------ who is inside now
function setupInside(onHistory) {
  const box = $("inside");
  const pick = $("inside-site");
  const days = $("inside-days");
  const list = $("inside-rows");
  const count = $("inside-count");
  const load = async () => {
    if (!pick.value) { list.replaceChildren(); count.textContent = ""; return; }
    count.textContent = "…";
    try {
      const now = await api(`/sites/${encodeURIComponent(pick.value)}/inside?days=${days.value || 30}`);
      list.replaceChildren(...now.items.map((p) => el("tr", { "data-resident": p.resident_id },
        el("td", {}, el("button", { type: "button", class: "link history", onclick: () => onHistory(p.resident_id, p.name) },
          p.name)),
        el("td", {}, [p.building, p.unit, p.household].filter(Boolean).join(" / ")),
        el("td", {}, fmtTime(p.entered_at)), el("td", {}, p.gate_id))));
      count.textContent = t(now.truncated ? "inside_n_truncated" : "inside_n", { n: now.count, days: now.days });
    } catch (e) { count.textContent = t("error", { msg: e.message }); }
  };
  pick.addEventListener("change", load);
  days.addEventListener("change", load);
  $("inside-form").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  return (sites) => {
    siteOptions(pick, sites, sites.length === 1 ? null : t("pick_site"));
    box.hidden = false;
    load();
  };
}

// ------------------------------------------------------------------ dashboard: review figures
// called by the dashboard (app.js) with its filters: recognitions marked wrong per gate
async function reviewFigures(site, sinceDay, untilDay) {
  const body = $("dash-reviews");
  if (!body) return;
  const q = new URLSearchParams({ since: new Date(`${sinceDay}T00:00`).toISOString() });
  const end = new Date(`${untilDay}T00:00`);
  end.setDate(end.getDate() + 1);
  q.set("until", end.toISOString());
  if (site) q.set("site", site);
  const figures = await api(`/stats/reviews?${q}`);
  body.replaceChildren(...(figures.items.length ? figures.items.map((g) => el("tr", { "data-gate": g.gate_id },
    el("td", {}, g.gate_id), el("td", {}, g.wrong_person), el("td", {}, g.stranger), el("td", {}, g.missed_resident),
    el("td", {}, g.total)))
    : [el("tr", { class: "none" }, el("td", { colspan: 5, class: "muted" }, t("no_reviews")))]));
}
