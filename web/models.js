// Models page: what the server offers, downloads, deletes and uploads (PUT /api/models/{kind}/{name}).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  function modelRow(kind, m) {
    const files = element("span");
    for (const f of m.files || []) {
      files.append(element("a", { href: `api/models/${kind}/${encodeURIComponent(m.name)}/files/${encodeURIComponent(f.name)}`,
                                  download: f.name }, f.name), " ");
    }
    const remove = element("button", { class: "secondary", onclick: () => removeModel(kind, m.name) }, "Delete");
    if (m.builtin) remove.disabled = true;
    return element("tr", {},
      element("td", {}, m.name, m.builtin ? " (built in)" : ""),
      element("td", {}, m.type || ""),
      element("td", {}, (m.classes || []).join(", ")),
      element("td", { class: m.status === "ready" ? "ok" : "error" }, m.status === "ready" ? "ready" : m.error),
      element("td", {}, files),
      element("td", {}, remove));
  }

  function render() {
    const target = $("model-lists");
    target.replaceChildren();
    for (const kind of ["classification", "segmentation"]) {
      const models = app.models[kind];
      target.append(element("h3", {}, kind));
      if (!models.length) { target.append(element("p", { class: "muted" }, "none")); continue; }
      target.append(element("table", { class: "model-table" },
        element("thead", {}, element("tr", {}, ...["Name", "Type", "Classes", "Status", "Files", ""].map((h) => element("th", {}, h)))),
        element("tbody", {}, ...models.map((m) => modelRow(kind, m)))));
    }
    target.append(element("h3", {}, "post-processing"));
    target.append(element("ul", {}, ...app.models.postprocessing.map((p) => element("li", {}, element("b", {}, p.name), ": ", p.description))));
  }

  async function removeModel(kind, name) {
    if (!confirm(`Delete ${kind} model '${name}'?`)) return;
    try {
      await api(`api/models/${kind}/${encodeURIComponent(name)}`, { method: "DELETE" });
      showMessage($("upload-status"), `deleted '${name}'`, "ok");
    } catch (e) {
      showMessage($("upload-status"), e.message, "error");
    }
    await loadModels();
  }

  $("upload-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const body = new FormData();
    for (const file of form.files.files) body.append(file.name, file, file.name);  // field name = file name
    const query = form.overwrite.checked ? "?overwrite=1" : "";
    showMessage($("upload-status"), "uploading…", "muted");
    try {
      const m = await api(`api/models/${form.kind.value}/${encodeURIComponent(form.name.value)}${query}`, { method: "PUT", body });
      showMessage($("upload-status"), `installed '${m.name}' (${m.type}, classes ${(m.classes || []).join(", ")})`, "ok");
      form.reset();
    } catch (err) {
      showMessage($("upload-status"), err.message, "error");
    }
    await loadModels();
  });

  document.addEventListener("models-changed", () => { if (!$("page-models").hidden) render(); });
  app.pages.models = { show: () => { if (app.models) render(); loadModels(); } };
})();
