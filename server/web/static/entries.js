// Part of the web UI (app.js holds the frame: api(), el(), t(), routing); loaded after it.
"use strict";

// ------------------------------------------------------------------ entry log
function entryQuery(form, cursor) {
  const q = new URLSearchParams();
  for (const name of ["site", "gate", "resident", "decision"]) if (form[name].value) q.set(name, form[name].value);
  for (const name of ["since", "until"]) if (form[name].value) q.set(name, new Date(form[name].value).toISOString());
  if (form.alerts_only.checked) q.set("alerts_only", "true");
  if (cursor) q.set("cursor", cursor);
  return q;
}

function entryRow(e) {
  return el("tr", { class: e.decision, "data-event": e.event_id },
    el("td", {}, fmtTime(e.captured_at)), el("td", {}, e.gate_id), el("td", {}, personName(e)),
    el("td", { class: `verdict ${e.decision}` }, t(e.decision)), el("td", {}, e.reasons.map(code).join(" · ")),
    el("td", {}, temperature(e)));
}

function renderEntries(view) {
  view.replaceChildren($("t-entries").content.cloneNode(true));
  const form = $("entry-filters");
  const rows = $("entry-rows");
  const more = $("more");
  const sites = form.site;
  sites.append(el("option", { value: "" }, t("all_sites")));
  api("/sites").then((list) => { for (const s of list) sites.append(el("option", { value: s.id }, s.name || s.id)); })
    .catch(() => {});
  let cursor = null;
  let shown = 0;
  const load = async (append) => {
    if (!append) { rows.replaceChildren(); cursor = null; shown = 0; }
    try {
      const page = await api(`/entries?limit=50&${entryQuery(form, cursor)}`);
      rows.append(...page.items.map(entryRow));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      $("entry-count").textContent = t("shown", { n: shown });
    } catch (e) { $("entry-count").textContent = t("error", { msg: e.message }); }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
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
  load(false);
}
