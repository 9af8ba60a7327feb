// Detect page: drop images, run POST /api/predict, draw flake outlines over the image, sortable flake table,
// click a row to zoom to the flake.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const canvas = $("view");
  const ctx = canvas.getContext("2d");
  const state = { images: [], current: -1, selected: -1, sort: { key: "index", dir: 1 }, view: { scale: 1, x: 0, y: 0 } };

  function current() { return state.images[state.current]; }

  function fillModelSelects() {
    if (!app.models) return;
    const select = $("classification-model");
    const previous = select.value;
    select.replaceChildren(...app.models.classification.filter((m) => m.status === "ready")
      .map((m) => element("option", { value: m.name }, m.name + (m.classes ? ` (${m.classes.length} classes)` : ""))));
    const wanted = previous || "graphene-2dmatgmm";  // the built-in model unless the user picked another
    if ([...select.options].some((o) => o.value === wanted)) select.value = wanted;
    const segmenters = $("segmentation-model");
    const picked = segmenters.value;
    const ready = app.models.segmentation.filter((m) => m.status === "ready");
    segmenters.replaceChildren(...ready.map((m) => element("option", { value: m.name, title: m.description || "" },
                                                           m.name + (m.default ? " (default)" : ""))),
                               element("option", { value: "none" }, "none (classifier alone)"));
    const fallback = ready.find((m) => m.default);
    segmenters.value = [...segmenters.options].some((o) => o.value === picked) ? picked : fallback ? fallback.name : "none";
    const rules = $("postprocessing");
    if (!rules.options.length)
      rules.replaceChildren(...app.models.postprocessing.map((p) => element("option", { value: p.name, title: p.description }, p.name)));
  }

  function classNames() {
    const model = app.models && app.models.classification.find((m) => m.name === current().result.models.classification.name);
    return model && model.classes ? model.classes : [];
  }

  // --- image list and prediction -------------------------------------------------------------------------
  async function decodeInBrowser(file) {
    try { return await createImageBitmap(file); } catch (e) { return null; }  // e.g. TIFF: use the server's overlay
  }

  async function addFiles(files) {
    for (const file of files) {
      const item = { name: file.name, file, status: "waiting", result: null, flakes: [], picture: null };
      state.images.push(item);
      item.li = element("li", { title: file.name, onclick: () => select(state.images.indexOf(item)) }, file.name);
      $("image-list").append(item.li);
    }
    renderList();
    for (const item of state.images.filter((i) => i.status === "waiting")) {
      await predict(item);
      if (state.current < 0 || current() === item) select(state.images.indexOf(item));
    }
  }

  async function predict(item) {
    item.status = "detecting…";
    renderList();
    const picture = await decodeInBrowser(item.file);
    const form = new FormData();
    form.append("image", item.file, item.file.name);
    form.append("classification_model", $("classification-model").value);
    form.append("segmentation_model", $("postprocessing").value === "2dmatgmm" ? "none" : $("segmentation-model").value);
    form.append("score_threshold", $("score-threshold").value);
    form.append("postprocessing", $("postprocessing").value);
    if ($("std-threshold").value) form.append("std_threshold", $("std-threshold").value);
    form.append("size_threshold", $("size-threshold").value);
    form.append("min_score", $("min-score").value);
    if (!picture) form.append("overlay", "1");
    try {
      item.result = await api("api/predict", { method: "POST", body: form });
      item.picture = picture || await overlayPicture(item.result.overlay_png_base64);
      item.status = `${item.result.flakes.length} flakes`;
      item.error = null;
    } catch (e) {
      item.status = "failed";
      item.error = e.message;
    }
    renderList();
  }

  async function overlayPicture(base64) {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return createImageBitmap(new Blob([bytes], { type: "image/png" }));
  }

  function renderList() {
    state.images.forEach((item, i) => {
      item.li.textContent = `${item.name} — ${item.status}`;
      item.li.classList.toggle("active", i === state.current);
    });
  }

  function select(index) {
    state.current = index;
    state.selected = -1;
    const item = current();
    renderList();
    if (!item.result) {
      showMessage($("detect-status"), item.error ? `${item.name}: ${item.error}` : `${item.name}: ${item.status}`,
                  item.error ? "error" : "muted");
      $("flake-table").tBodies[0].replaceChildren();
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      return;
    }
    prepareFlakes(item);
    const t = item.result.timing_ms;
    showMessage($("detect-status"), `${item.name}: ${item.result.width}×${item.result.height} px, ` +
      `${item.flakes.length} flakes, ${t.total.toFixed(0)} ms on the server`, "muted");
    fitView();
    renderTable();
  }

  // Flake rows with derived columns and outlines (computed once per image).
  function prepareFlakes(item) {
    if (item.flakes.length === item.result.flakes.length) return;
    const umPerPx = parseFloat($("um-per-px").value) || 0.3844;
    const names = classNames();
    item.flakes = item.result.flakes.map((f, index) => {
      const box = [Math.floor(f.bbox[0]), Math.floor(f.bbox[1]), Math.ceil(f.bbox[2]), Math.ceil(f.bbox[3])];
      const outline = maskOutline(rleToBoxMask(f.segmentation, box), box);
      return { ...f, index, box, area_um2: f.area * umPerPx * umPerPx, colour: classColour(names, f.class), outline };
    });
  }

  // --- table ---------------------------------------------------------------------------------------------
  function renderTable() {
    const item = current();
    const { key, dir } = state.sort;
    const rows = [...item.flakes].sort((a, b) => {
      const va = key === "class" ? (parseFloat(a.class) || a.class) : a[key];
      const vb = key === "class" ? (parseFloat(b.class) || b.class) : b[key];
      return (va < vb ? -1 : va > vb ? 1 : a.index - b.index) * dir;
    });
    $("flake-table").tBodies[0].replaceChildren(...rows.map((f) => element("tr",
      { class: f.index === state.selected ? "selected" : "", "data-index": f.index, onclick: () => selectFlake(f.index) },
      element("td", {}, f.index + 1),
      element("td", {}, element("span", { class: "swatch", style: `background:${f.colour}` }), f.class),
      element("td", {}, f.area_um2.toFixed(1)),
      element("td", {}, f.uncertainty.toFixed(2)),
      element("td", {}, f.score.toFixed(3)))));
    for (const th of $("flake-table").tHead.rows[0].cells) {
      th.classList.toggle("asc", th.dataset.key === key && dir > 0);
      th.classList.toggle("desc", th.dataset.key === key && dir < 0);
    }
  }

  function selectFlake(index) {
    state.selected = index;
    const f = current().flakes[index];
    const [x, y, w, h] = f.box;
    syncCanvasSize(canvas);
    const scale = Math.min(8, 0.4 * Math.min(canvas.width / Math.max(w, 8), canvas.height / Math.max(h, 8)));
    state.view = { scale, x: x + w / 2 - canvas.width / 2 / scale, y: y + h / 2 - canvas.height / 2 / scale };
    renderTable();
    draw();
  }

  // --- drawing -------------------------------------------------------------------------------------------
  function fitView() {
    state.view = fittedView(canvas, current().result.width, current().result.height);
    draw();
  }

  function draw() {
    syncCanvasSize(canvas);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const item = current();
    if (!item || !item.result) return;
    const { scale, x, y } = state.view;
    ctx.setTransform(scale, 0, 0, scale, -x * scale, -y * scale);
    ctx.imageSmoothingEnabled = scale < 2;
    if (item.picture) ctx.drawImage(item.picture, 0, 0, item.result.width, item.result.height);
    let segments = 0;
    for (const f of item.flakes) {
      ctx.lineWidth = (f.index === state.selected ? 3.5 : 2) / scale;
      ctx.strokeStyle = f.colour;
      ctx.stroke(f.outline.path);
      segments += f.outline.segments;
    }
    if (state.selected >= 0) {
      const [bx, by, bw, bh] = item.flakes[state.selected].box;
      ctx.setLineDash([6 / scale, 4 / scale]);
      ctx.lineWidth = 1.5 / scale;
      ctx.strokeStyle = "#fff";
      ctx.strokeRect(bx - 6 / scale, by - 6 / scale, bw + 12 / scale, bh + 12 / scale);
      ctx.setLineDash([]);
    }
    canvas.dataset.outlineSegments = segments;  // what the browser test checks
  }

  // --- events --------------------------------------------------------------------------------------------
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); addFiles([...e.dataTransfer.files]); });
  $("image-input").addEventListener("change", (e) => { addFiles([...e.target.files]); e.target.value = ""; });

  for (const th of $("flake-table").tHead.rows[0].cells) {
    th.addEventListener("click", () => {
      state.sort = { key: th.dataset.key, dir: state.sort.key === th.dataset.key ? -state.sort.dir : 1 };
      if (current() && current().result) renderTable();
    });
  }
  $("um-per-px").addEventListener("change", () => {
    for (const item of state.images) item.flakes = [];
    if (current() && current().result) select(state.current);
  });

  addZoomAndPan(canvas, () => Boolean(current() && current().result), () => state.view, (view) => { state.view = view; draw(); });
  canvas.addEventListener("dblclick", () => { if (current() && current().result) fitView(); });
  window.addEventListener("resize", () => draw());
  document.addEventListener("models-changed", fillModelSelects);

  app.pages.detect = { show: () => { fillModelSelects(); draw(); } };
})();
