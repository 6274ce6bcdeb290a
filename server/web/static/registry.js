// Part of the web UI (app.js holds the frame: api(), el(), t(), routing); loaded after it.
// A community office's registry (compounds … residents, photos and enrolment, bulk import),
// visitor passes, and the audit log for admins.
"use strict";

// ------------------------------------------------------------------ registry
function renderRegistry(view) {
  view.replaceChildren(el("p", { class: "muted" }, t("nothing")));
}

// ------------------------------------------------------------------ visitor passes
function renderPasses(view) {
  view.replaceChildren(el("p", { class: "muted" }, t("nothing")));
}

// ------------------------------------------------------------------ audit log (admins)
function renderAudit(view) {
  view.replaceChildren(el("p", { class: "muted" }, t("nothing")));
}
