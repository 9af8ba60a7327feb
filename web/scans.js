// Scans page, list view (#scans): start a scan of a folder under the server's scan root (POST /api/scans) and
// follow every scan's progress and review counts; #scans/NAME opens a scan's review (review.js).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let timer = null;

  const running = (scan) => scan.state === "scanning" || scan.state === "reranking";

  function scanRow(scan) {
    const done = scan.images_done || 0, total = scan.images_total || 0;
    const progress = element("td", {}, element("progress", { max: String(Math.max(total, 1)), value: String(done) }),
                             ` ${done} / ${total}`);
    if (scan.images_failed) progress.append(element("span", { class: "error" }, ` · ${scan.images_failed} unreadable`));
    if (running(scan)) progress.append(element("span", { class: "muted" }, ` · ${scan.state}`));
    if (scan.error) progress.append(element("div", { class: "error" }, scan.error));
    const remove = element("button", { class: "secondary", onclick: () => removeScan(scan.name) }, "Delete");
    return element("tr", { "data-scan": scan.name },
      element("td", {}, element("a", { href: `#scans/${encodeURIComponent(scan.name)}` }, scan.name)),
      element("td", {}, (scan.folders || []).join(", ")),
      progress,
      element("td", {}, scan.candidates || 0),
      element("td", {}, scan.reviewed || 0),
      element("td", {}, scan.accepted || 0),
      element("td", {}, remove));
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const answer = await api("api/scans");
      const scans = Array.isArray(answer) ? answer : answer.scans;
      $("scan-table").tBodies[0].replaceChildren(...scans.map(scanRow));
      if (!scans.length) $("scan-table").tBodies[0].append(element("tr", {}, element("td", { colspan: "7", class: "muted" }, "no scans yet")));
      if (!$("page-scans").hidden && !$("scan-list-view").hidden) timer = setTimeout(refresh, scans.some(running) ? 1000 : 5000);
    } catch (e) {
      showMessage($("scan-status"), e.message, "error");
    }
  }

  async function removeScan(name) {
    if (!confirm(`Delete scan '${name}' with its candidates and verdicts? The images stay.`)) return;
    try {
      await api(`api/scans/${encodeURIComponent(name)}`, { method: "DELETE" });
      showMessage($("scan-status"), `deleted '${name}'`, "ok");
    } catch (e) {
      showMessage($("scan-status"), e.message, "error");
    }
    refresh();
  }

  $("scan-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    try {
      await api("api/scans", { method: "POST", headers: { "Content-Type": "application/json" },
                               body: JSON.stringify({ name: form.name.value, folder: form.folder.value }) });
      showMessage($("scan-status"), `scanning '${form.folder.value}' as '${form.name.value}'`, "ok");
      form.reset();
    } catch (err) {
      showMessage($("scan-status"), err.message, "error");
    }
    refresh();
  });

  app.pages.scans = {
    show: (scan) => {
      $("scan-list-view").hidden = Boolean(scan);
      $("review-view").hidden = !scan;
      if (scan) app.review.open(scan);
      else { app.review.close(); refresh(); }
    },
  };
})();
