// Annotate page: mark flakes on images of a server-side annotation dataset (click: region grown by the server,
// shift-click adds, alt-click removes; brush; polygon; lasso on the contrast scatter plot), give each a layer
// class (number keys), save as COCO RLE after every edit, and train the segmentation model and a classifier
// on it. Each image keeps a label map (one id per flake, 0 = none); undo / redo replay pixel changes.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const canvas = $("ann-view");
  const ctx = canvas.getContext("2d");
  const scatter = $("ann-scatter");
  const STORAGE_KEY = "maskterial.annotate";
  const MIN_LASSO_FLAKE = 100;      // px: smaller connected parts of a lasso selection are noise
  const MAX_LASSO_SHARE = 0.25;     // of the image: larger parts are substrate
  const state = {
    dataset: null, categories: [], images: [], current: -1, selected: 0, cls: 1,
    view: { scale: 1, x: 0, y: 0 }, polygon: [], guides: [], busy: false, saveTimer: null,
  };
  const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
  let lasso = [];  // the contrast plot lasso being drawn: canvas points

  function current() { return state.images[state.current]; }
  function remember() {
    const item = current();
    localStorage.setItem(STORAGE_KEY, JSON.stringify({
      dataset: state.dataset, image: item && item.file_name, cls: state.cls, tool: $("ann-tool").value,
      tolerance: $("ann-tolerance").value, material: $("ann-material").value, oxide: $("ann-oxide").value,
    }));
  }
  function status(text, kind) { showMessage($("ann-status"), text, kind || "muted"); }
  function classColourOf(cls) { return CLASS_COLOURS[(cls - 1 + CLASS_COLOURS.length) % CLASS_COLOURS.length]; }
  const validName = (name) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name);
  const datasetPath = (...parts) => ["api/datasets", state.dataset, ...parts].map(encodeURIComponent).join("/").replace(/%2F/g, "/");

  // --- datasets ------------------------------------------------------------------------------------------
  async function fillDatasets(wanted) {
    const list = await api("api/datasets");
    const select = $("ann-dataset");
    select.replaceChildren(...list.map((d) => element("option", { value: d.name }, `${d.name} (${d.images || 0} images)`)));
    if (wanted && list.some((d) => d.name === wanted)) select.value = wanted;
    return list;
  }

  async function createDataset(name) {
    await api("api/datasets", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
    await fillDatasets(name);
    await openDataset(name);
  }

  async function openDataset(name) {
    state.dataset = name;
    state.images = [];
    state.current = -1;
    $("ann-images").replaceChildren();
    if (!name) return draw();
    const coco = await api(datasetPath());
    state.categories = coco.categories;
    for (const image of coco.images) {
      const blob = await (await fetch(datasetPath("images", image.file_name))).blob();
      const item = newItem(image, blob, await createImageBitmap(blob));
      for (const a of coco.annotations.filter((a) => a.image_id === image.id)) {
        const id = ++item.nextId;
        item.classes.set(id, a.category_id);
        for (const p of rlePixels(a.segmentation)) item.labels[p] = id;
      }
    }
    renderList();
    const index = state.images.findIndex((i) => i.file_name === saved.image);
    if (state.images.length) select(index >= 0 ? index : 0);
    remember();
  }

  function newItem(image, blob, picture) {
    const item = { ...image, blob, picture, labels: new Uint16Array(image.width * image.height), classes: new Map(),
                   nextId: 0, undo: [], redo: [], outlines: new Map(), contrast: null, background: null };
    state.images.push(item);
    item.li = element("li", { title: image.file_name, onclick: () => select(state.images.indexOf(item)) });
    $("ann-images").append(item.li);
    return item;
  }

  async function addFiles(files) {
    if (!state.dataset) await createDataset($("ann-new-name").value || "annotations");
    for (const file of files) {
      const name = file.name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[._-]+/, "");
      if (!validName(name)) { status(`${file.name}: not a usable file name`, "error"); continue; }
      try {
        const image = await api(datasetPath("images", name), { method: "PUT", body: file });
        const existing = state.images.findIndex((i) => i.file_name === name);
        if (existing >= 0) { select(existing); continue; }
        newItem(image, file, await createImageBitmap(file));
        select(state.images.length - 1);
      } catch (e) {
        status(`${file.name}: ${e.message}`, "error");
      }
    }
    renderList();
    fillDatasets(state.dataset);
  }

  // The dataset as COCO with RLE masks (area and bbox are computed by the server from them).
  function toCoco() {
    const images = [], annotations = [];
    let annotationId = 1, maxClass = 4;
    for (const item of state.images) {
      images.push({ id: item.id, file_name: item.file_name, width: item.width, height: item.height, split: item.split });
      for (const [id, rle] of rleEncodeLabels(item.labels, item.width, item.height)) {
        const cls = item.classes.get(id) || 1;
        maxClass = Math.max(maxClass, cls);
        annotations.push({ id: annotationId++, image_id: item.id, category_id: cls, segmentation: rle, iscrowd: 0 });
      }
    }
    const categories = [];
    for (let c = 1; c <= maxClass; c++) categories.push({ id: c, name: String(c), supercategory: "flake" });
    return { images, annotations, categories };
  }

  function scheduleSave() {
    clearTimeout(state.saveTimer);
    state.saveTimer = setTimeout(save, 400);
    $("ann-saved").textContent = "unsaved changes";
  }

  async function save() {
    clearTimeout(state.saveTimer);
    if (!state.dataset) return;
    try {
      const stored = await api(datasetPath(), { method: "PUT", headers: { "Content-Type": "application/json" },
                                               body: JSON.stringify(toCoco()) });
      $("ann-saved").textContent = `saved: ${stored.annotations.length} flakes on ${stored.images.length} images`;
      $("ann-saved").dataset.annotations = String(stored.annotations.length);
    } catch (e) {
      $("ann-saved").textContent = `not saved: ${e.message}`;
    }
  }

  // --- edits and undo ------------------------------------------------------------------------------------
  // One undoable edit: pixels get the label `to` (one for all, or a list with one per pixel); classes:
  // [[flake id, class before, class after]] (0: no such flake).
  function commit(item, pixels, to, classes = []) {
    if (!pixels.length && !classes.length) return;
    const before = new Uint16Array(pixels.length), after = new Uint16Array(pixels.length);
    pixels.forEach((p, i) => { before[i] = item.labels[p]; after[i] = Array.isArray(to) ? to[i] : to; });
    const step = { pixels: Int32Array.from(pixels), before, after, classes };
    apply(item, step, "after");
    item.undo.push(step);
    item.redo = [];
  }

  function apply(item, step, which) {
    const values = step[which];
    const touched = new Set();
    step.pixels.forEach((p, i) => { touched.add(item.labels[p]); item.labels[p] = values[i]; touched.add(values[i]); });
    for (const [id, before, after] of step.classes) {
      const cls = which === "after" ? after : before;
      if (cls) item.classes.set(id, cls); else item.classes.delete(id);
      touched.add(id);
    }
    for (const id of touched) item.outlines.delete(id);
    renderFlakes();
    draw();
    if (item === current()) drawScatter();
    scheduleSave();
  }

  function undo() {
    const item = current();
    if (!item || !item.undo.length) return;
    const step = item.undo.pop();
    apply(item, step, "before");
    item.redo.push(step);
  }
  function redo() {
    const item = current();
    if (!item || !item.redo.length) return;
    const step = item.redo.pop();
    apply(item, step, "after");
    item.undo.push(step);
  }

  // A new flake of the current class from pixels that belong to no flake yet (null if none do).
  function addFlake(item, pixels) {
    const free = pixels.filter((p) => !item.labels[p]);
    if (!free.length) return null;
    const id = ++item.nextId;
    commit(item, free, id, [[id, 0, state.cls]]);
    state.selected = id;
    return id;
  }

  function setClass(cls) {
    state.cls = cls;
    $("ann-class").textContent = String(cls);
    const item = current();
    if (item && state.selected && item.classes.has(state.selected))
      commit(item, [], 0, [[state.selected, item.classes.get(state.selected), cls]]);
    remember();
  }

  function deleteSelected() {
    const item = current();
    if (!item || !state.selected) return;
    const pixels = [];
    item.labels.forEach((v, p) => { if (v === state.selected) pixels.push(p); });
    commit(item, pixels, 0, [[state.selected, item.classes.get(state.selected), 0]]);
    state.selected = 0;
  }

  // --- tools ---------------------------------------------------------------------------------------------
  async function regionAt(item, x, y, mode) {
    if (state.busy) return;
    state.busy = true;
    status(`growing the region at (${x}, ${y})…`);
    const form = new FormData();
    form.append("image", item.blob, item.file_name);
    form.append("x", String(x));
    form.append("y", String(y));
    form.append("tolerance", $("ann-tolerance").value);
    if ($("ann-guide").value !== "none") form.append("segmentation_model", $("ann-guide").value);
    try {
      const r = await api("api/annotate/region", { method: "POST", body: form });
      if (!r.found) { status(r.message, "error"); return; }
      const pixels = rlePixels(r.segmentation);
      if (mode === "remove") {
        commit(item, pixels, 0);
      } else if (mode === "add" && state.selected && item.classes.has(state.selected)) {
        const target = state.selected;
        commit(item, pixels.filter((p) => !item.labels[p]), target);
      } else {
        addFlake(item, pixels);
      }
      const c = r.mean_contrast_bgr.map((v) => v.toFixed(3)).join(", ");
      status(`flake of ${r.area} px, mean contrast (B, G, R) ${c}`, "ok");
    } catch (e) {
      status(e.message, "error");
    } finally {
      state.busy = false;
    }
  }

  function brushAt(item, x, y, erase) {
    const r = Math.max(1, parseInt($("ann-brush").value, 10) || 8);
    const pixels = [];
    for (let dy = -r; dy <= r; dy++)
      for (let dx = -r; dx <= r; dx++) {
        const px = x + dx, py = y + dy;
        if (dx * dx + dy * dy <= r * r && px >= 0 && py >= 0 && px < item.width && py < item.height) pixels.push(py * item.width + px);
      }
    if (erase) return commit(item, pixels.filter((p) => item.labels[p] === state.selected && state.selected), 0);
    if (!state.selected || !item.classes.has(state.selected)) return addFlake(item, pixels);
    commit(item, pixels.filter((p) => !item.labels[p]), state.selected);
  }

  // Pixels inside a polygon (image coordinates), rasterised by the canvas.
  function polygonPixels(item, points) {
    const off = new OffscreenCanvas(item.width, item.height);
    const g = off.getContext("2d");
    g.beginPath();
    points.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
    g.closePath();
    g.fill();
    const alpha = g.getImageData(0, 0, item.width, item.height).data;
    const pixels = [];
    for (let p = 0; p < item.width * item.height; p++) if (alpha[4 * p + 3] >= 128) pixels.push(p);
    return pixels;
  }

  function closePolygon() {
    const item = current();
    if (item && state.polygon.length >= 3) addFlake(item, polygonPixels(item, state.polygon));
    state.polygon = [];
    draw();
  }

  // --- contrast scatter plot and lasso -------------------------------------------------------------------
  async function ensureContrast(item) {
    if (item.contrast) return;
    const form = new FormData();
    form.append("image", item.blob, item.file_name);
    item.background = (await api("api/annotate/background", { method: "POST", body: form })).background_bgr;
    const off = new OffscreenCanvas(item.width, item.height);
    const g = off.getContext("2d");
    g.drawImage(item.picture, 0, 0);
    const rgba = g.getImageData(0, 0, item.width, item.height).data;
    const [bb, bg, br] = item.background;
    const w = item.width, h = item.height;
    const raw = new Float32Array(3 * w * h);  // B, G, R contrast per pixel
    for (let p = 0; p < w * h; p++) {
      raw[3 * p] = rgba[4 * p + 2] / bb - 1;
      raw[3 * p + 1] = rgba[4 * p + 1] / bg - 1;
      raw[3 * p + 2] = rgba[4 * p] / br - 1;
    }
    item.contrast = boxBlur3(raw, w, h);
  }

  // 3x3 mean of a 3-channel image (edges: the pixels that exist), so that the plot's clusters are tight and a
  // lasso selects whole flakes rather than their noisy pixels.
  function boxBlur3(values, w, h) {
    const rows = new Float32Array(values.length), out = new Float32Array(values.length);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) {
          let sum = 0, n = 0;
          for (let dx = -1; dx <= 1; dx++) if (x + dx >= 0 && x + dx < w) { sum += values[3 * (y * w + x + dx) + c]; n++; }
          rows[3 * (y * w + x) + c] = sum / n;
        }
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) {
          let sum = 0, n = 0;
          for (let dy = -1; dy <= 1; dy++) if (y + dy >= 0 && y + dy < h) { sum += rows[3 * ((y + dy) * w + x) + c]; n++; }
          out[3 * (y * w + x) + c] = sum / n;
        }
    return out;
  }

  const plane = () => ($("ann-plane").value === "bg" ? [0, 1] : [1, 2]);  // channel indices on the x and y axes
  const PLOT = { min: -0.8, max: 0.4 };
  const toPlot = (v) => ((v - PLOT.min) / (PLOT.max - PLOT.min)) * scatter.width;
  const fromPlot = (u) => PLOT.min + (u / scatter.width) * (PLOT.max - PLOT.min);

  // The density and annotation layer of the plot, recomputed (all pixels) unless only the lasso moved.
  let scatterBase = null;
  function drawScatter(lassoOnly = false) {
    const g = scatter.getContext("2d");
    const n = scatter.width;
    g.fillStyle = "#fff";
    g.fillRect(0, 0, n, n);
    const item = current();
    if (!item || !item.contrast) return;
    const [cx, cy] = plane();
    if (!lassoOnly || !scatterBase) scatterBase = scatterLayer(item, cx, cy);
    g.drawImage(scatterBase, 0, 0);
    g.fillStyle = "#b42318";
    g.font = "11px system-ui";
    for (const guide of state.guides) {
      const u = toPlot(guide.contrast_bgr[cx]), v = n - toPlot(guide.contrast_bgr[cy]);
      g.beginPath(); g.arc(u, v, 3.5, 0, 2 * Math.PI); g.fill();
      g.fillText(`${guide.layers}L`, u + 5, v - 4);
    }
    const names = ["B", "G", "R"];
    g.fillStyle = "#444";
    g.fillText(`contrast ${names[cx]} →`, n - 80, n - 6);
    g.fillText(`↑ contrast ${names[cy]}`, 4, 12);
    if (lasso.length) {
      g.strokeStyle = "#0b6bcb";
      g.beginPath();
      lasso.forEach(([u, v], i) => (i ? g.lineTo(u, v) : g.moveTo(u, v)));
      g.stroke();
    }
    scatter.dataset.plot = JSON.stringify({ ...PLOT, axes: [cx, cy] });  // contrast -> plot mapping, for the test
    scatter.dataset.image = item.file_name;
  }

  // Log-shaded pixel density in the (cx, cy) contrast plane, the annotated pixels in their class colours, axes.
  function scatterLayer(item, cx, cy) {
    const n = scatter.width;
    const layer = new OffscreenCanvas(n, n);
    const g = layer.getContext("2d");
    const density = new Uint32Array(n * n);
    let peak = 1;
    for (let p = 0; p < item.width * item.height; p++) {
      const u = Math.floor(toPlot(item.contrast[3 * p + cx])), v = n - 1 - Math.floor(toPlot(item.contrast[3 * p + cy]));
      if (u < 0 || v < 0 || u >= n || v >= n) continue;
      peak = Math.max(peak, ++density[v * n + u]);
    }
    const image = g.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      const shade = density[i] ? 230 - Math.round(230 * Math.log1p(density[i]) / Math.log1p(peak)) : 255;
      image.data.set([shade, shade, shade, 255], 4 * i);
    }
    g.putImageData(image, 0, 0);
    // Class colours of the annotated pixels on top, then the optics model's guides.
    g.globalAlpha = 0.5;
    item.labels.forEach((id, p) => {
      if (!id || p % 7) return;  // a sample keeps this quick
      g.fillStyle = classColourOf(item.classes.get(id) || 1);
      g.fillRect(toPlot(item.contrast[3 * p + cx]), n - toPlot(item.contrast[3 * p + cy]), 1.5, 1.5);
    });
    g.globalAlpha = 1;
    g.strokeStyle = "#999";
    g.beginPath();
    g.moveTo(toPlot(0), 0); g.lineTo(toPlot(0), n); g.moveTo(0, n - toPlot(0)); g.lineTo(n, n - toPlot(0));
    g.stroke();
    return layer;
  }

  function insidePolygon(points, x, y) {
    let inside = false;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i], [xj, yj] = points[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  // Every unannotated pixel whose contrast lies in the lasso becomes part of a flake of the current class: the
  // selection is closed (3x3) so a flake's noisy pixels join up, then each 4-connected part, its holes filled,
  // is one flake; parts too small (noise) or too large (substrate) are left out.
  function paintCluster(item, polygon) {
    const [cx, cy] = plane();
    const contrastPolygon = polygon.map(([u, v]) => [fromPlot(u), fromPlot(scatter.height - v)]);
    const w = item.width, h = item.height;
    let selected = new Uint8Array(w * h);
    for (let p = 0; p < w * h; p++)
      if (insidePolygon(contrastPolygon, item.contrast[3 * p + cx], item.contrast[3 * p + cy])) selected[p] = 1;
    selected = morph3(morph3(selected, w, h, true), w, h, false);
    for (let p = 0; p < w * h; p++) if (item.labels[p]) selected[p] = 0;
    const pixels = [], labels = [], classes = [];
    for (const part of connectedParts(selected, w, h)) {
      if (part.length < MIN_LASSO_FLAKE || part.length > MAX_LASSO_SHARE * w * h) continue;
      const id = ++item.nextId;
      for (const p of withHolesFilled(part, w, h)) if (!item.labels[p]) { pixels.push(p); labels.push(id); }
      classes.push([id, 0, state.cls]);
    }
    if (!classes.length) return status("the lasso selects no flake-sized region", "error");
    commit(item, pixels, labels, classes);
    status(`lasso: ${classes.length} flakes of class ${state.cls}`, "ok");
  }

  // 3x3 dilation (grow) or erosion of a 0/1 mask.
  function morph3(mask, w, h, grow) {
    const out = new Uint8Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let hit = !grow;
        for (let dy = -1; dy <= 1 && hit !== grow; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const X = x + dx, Y = y + dy;
            const v = X >= 0 && Y >= 0 && X < w && Y < h ? mask[Y * w + X] === 1 : !grow;
            if (v === grow) { hit = grow; break; }
          }
        out[y * w + x] = hit ? 1 : 0;
      }
    return out;
  }

  // The 4-connected parts of a 0/1 mask, as lists of pixel indices (the mask is used up).
  function connectedParts(mask, w, h) {
    const parts = [], stack = new Int32Array(w * h);
    for (let start = 0; start < w * h; start++) {
      if (mask[start] !== 1) continue;
      let top = 0;
      const part = [];
      stack[top++] = start;
      mask[start] = 2;
      while (top) {
        const p = stack[--top];
        part.push(p);
        const x = p % w, y = (p - x) / w;
        for (const q of [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1])
          if (q >= 0 && mask[q] === 1) { mask[q] = 2; stack[top++] = q; }
      }
      parts.push(part);
    }
    return parts;
  }

  // A part plus the pixels it encloses: what of its bounding box the outside cannot reach.
  function withHolesFilled(part, w, h) {
    let x0 = w, y0 = h, x1 = 0, y1 = 0;
    for (const p of part) { const x = p % w, y = (p - x) / w; x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    const bw = x1 - x0 + 3, bh = y1 - y0 + 3;  // a free border of one pixel all round
    const box = new Uint8Array(bw * bh);
    for (const p of part) { const x = p % w, y = (p - x) / w; box[(y - y0 + 1) * bw + x - x0 + 1] = 1; }
    const outside = connectedParts(box.map((v) => (v ? 0 : 1)), bw, bh)[0];  // starts at the corner: the outside
    const reached = new Uint8Array(bw * bh);
    for (const q of outside) reached[q] = 1;
    const filled = [];
    for (let by = 1; by < bh - 1; by++)
      for (let bx = 1; bx < bw - 1; bx++) if (!reached[by * bw + bx]) filled.push((by - 1 + y0) * w + bx - 1 + x0);
    return filled;
  }

  scatter.addEventListener("mousedown", (e) => { if (current() && current().contrast) lasso = [[e.offsetX, e.offsetY]]; });
  scatter.addEventListener("mousemove", (e) => { if (lasso.length) { lasso.push([e.offsetX, e.offsetY]); drawScatter(true); } });
  scatter.addEventListener("mouseup", () => {
    const polygon = lasso;
    lasso = [];
    if (polygon.length >= 3) paintCluster(current(), polygon);
    drawScatter();
  });

  async function loadGuides() {
    const query = new URLSearchParams({ material: $("ann-material").value || "graphene", oxide_nm: $("ann-oxide").value,
                                        layers: $("ann-layers").value });
    try {
      const answer = await api(`api/optics/contrast?${query}`);
      state.guides = answer.layers;
      const select = $("ann-material");
      if (!select.options.length) {
        select.replaceChildren(...answer.materials.map((m) => element("option", { value: m }, m)));
        select.value = saved.material || answer.material;
      }
    } catch (e) {
      state.guides = [];
      status(e.message, "error");
    }
    drawScatter();
    remember();
  }

  // --- list, table, drawing ------------------------------------------------------------------------------
  function renderList() {
    state.images.forEach((item, i) => {
      const flakes = new Set(item.labels.filter((v) => v)).size;
      const box = element("input", { type: "checkbox", title: "test image: held out of training, scored after it" });
      box.checked = item.split === "test";
      box.addEventListener("click", (e) => e.stopPropagation());
      box.addEventListener("change", () => { item.split = box.checked ? "test" : "train"; save(); });
      item.li.replaceChildren(box, ` ${item.file_name} — ${flakes} flakes${item.split === "test" ? " (test)" : ""}`);
      item.li.classList.toggle("active", i === state.current);
    });
  }

  function renderFlakes() {
    const item = current();
    const rows = [];
    if (item) {
      const area = new Map();
      item.labels.forEach((v) => { if (v) area.set(v, (area.get(v) || 0) + 1); });
      for (const [id, pixels] of [...area].sort((a, b) => a[0] - b[0])) {
        const cls = item.classes.get(id) || 1;
        rows.push(element("tr", { class: id === state.selected ? "selected" : "", onclick: () => { state.selected = id; renderFlakes(); draw(); } },
          element("td", {}, id), element("td", {}, element("span", { class: "swatch", style: `background:${classColourOf(cls)}` }), cls),
          element("td", {}, pixels)));
      }
    }
    $("ann-flakes").tBodies[0].replaceChildren(...rows);
    $("ann-flakes").dataset.flakes = String(rows.length);
    renderList();
  }

  async function select(index) {
    state.current = index;
    state.selected = 0;
    state.polygon = [];
    fitView();
    renderFlakes();
    remember();
    const item = current();
    status(`${item.file_name}: ${item.width}×${item.height} px`);
    try {
      await ensureContrast(item);
    } catch (e) {
      status(e.message, "error");
    }
    if (current() === item) drawScatter();
  }

  function fitView() {
    const item = current();
    if (item) state.view = fittedView(canvas, item.width, item.height);
    draw();
  }

  // The outline of one flake (cached until it changes).
  function outlineOf(item, id) {
    if (item.outlines.has(id)) return item.outlines.get(id);
    let x0 = item.width, y0 = item.height, x1 = -1, y1 = -1;
    item.labels.forEach((v, p) => {
      if (v !== id) return;
      const x = p % item.width, y = (p - x) / item.width;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    });
    const box = [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
    const mask = new Uint8Array(Math.max(0, box[2] * box[3]));
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) mask[(y - y0) * box[2] + x - x0] = item.labels[y * item.width + x] === id ? 1 : 0;
    const outline = x1 >= 0 ? maskOutline(mask, box) : { path: new Path2D(), segments: 0 };
    item.outlines.set(id, outline);
    return outline;
  }

  function draw() {
    syncCanvasSize(canvas);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const item = current();
    if (!item) return;
    const { scale, x, y } = state.view;
    ctx.setTransform(scale, 0, 0, scale, -x * scale, -y * scale);
    ctx.imageSmoothingEnabled = scale < 2;
    ctx.drawImage(item.picture, 0, 0, item.width, item.height);
    let segments = 0;
    for (const [id, cls] of item.classes) {
      const outline = outlineOf(item, id);
      ctx.lineWidth = (id === state.selected ? 3.5 : 2) / scale;
      ctx.strokeStyle = classColourOf(cls);
      ctx.stroke(outline.path);
      segments += outline.segments;
    }
    if (state.polygon.length) {
      ctx.lineWidth = 1.5 / scale;
      ctx.strokeStyle = "#fff";
      ctx.beginPath();
      state.polygon.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
      ctx.stroke();
    }
    canvas.dataset.outlineSegments = segments;
    canvas.dataset.view = JSON.stringify(state.view);  // image -> canvas mapping, for the browser test
  }

  function imagePoint(e) {
    const v = state.view;
    const px = e.offsetX * canvas.width / canvas.clientWidth, py = e.offsetY * canvas.height / canvas.clientHeight;
    return [Math.floor(v.x + px / v.scale), Math.floor(v.y + py / v.scale)];
  }

  // --- training ------------------------------------------------------------------------------------------
  async function waitForJob(job, label) {
    for (;;) {
      job = await api(`api/jobs/${encodeURIComponent(job.id)}`);
      showMessage($("ann-train-status"), `${label}: ${job.state}, ${Math.round(job.progress * 100)}% — ${job.stage}`, "muted");
      $("ann-train-progress").value = job.progress;
      if (job.loss && job.loss.length) drawLossCurve($("ann-loss"), job.loss);  // GMM jobs report none
      if (!["running", "cancelling"].includes(job.state)) break;
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    if (job.state !== "succeeded") throw new Error(`${label} ${job.state}: ${job.error || ""}`);
    return job;
  }

  async function train() {
    const button = $("ann-train");
    button.disabled = true;
    $("ann-metrics").tBodies[0].replaceChildren();
    const base = $("ann-model").value || state.dataset;
    const names = { segmentation: `${base}-sm`, classification: `${base}-${$("ann-classifier").value}` };
    const start = (body) => api(datasetPath("train"), { method: "POST", headers: { "Content-Type": "application/json" },
                                                         body: JSON.stringify({ overwrite: true, ...body }) });
    try {
      await save();
      const iterations = parseInt($("ann-iterations").value, 10) || undefined;
      await waitForJob(await start({ type: "segmenter", model: names.segmentation, iterations }), "segmentation model");
      await waitForJob(await start({ type: $("ann-classifier").value, model: names.classification }), "classifier");
      await loadModels();
      let summary = `trained ${names.segmentation} and ${names.classification}; they are in the Detect page's lists`;
      if (state.images.some((i) => i.split === "test")) {
        showMessage($("ann-train-status"), "scoring on the test images…", "muted");
        const m = await api(datasetPath("evaluate"), { method: "POST", headers: { "Content-Type": "application/json" },
                                                       body: JSON.stringify({ classification_model: names.classification,
                                                                              segmentation_model: names.segmentation }) });
        $("ann-metrics").tBodies[0].replaceChildren(...m.per_class.map((c) => element("tr", {},
          element("td", {}, c.name), element("td", {}, c.precision.toFixed(2)), element("td", {}, c.recall.toFixed(2)),
          element("td", {}, c.f1.toFixed(2)), element("td", {}, c.ap50 < 0 ? "–" : c.ap50.toFixed(2)))));
        summary += `; test images: AP50 ${m.ap50 < 0 ? "–" : m.ap50.toFixed(2)}, ${m.detections} detections, ${m.ground_truth} flakes`;
      }
      showMessage($("ann-train-status"), summary, "ok");
      $("ann-train-status").dataset.done = "1";
    } catch (e) {
      showMessage($("ann-train-status"), e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  // --- events --------------------------------------------------------------------------------------------
  let drag = null;
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("mousedown", (e) => {
    if (!current()) return;
    drag = { x: e.clientX, y: e.clientY, view: { ...state.view }, moved: false, button: e.button };
    if ($("ann-tool").value === "brush" && e.button === 0) { brushAt(current(), ...imagePoint(e), e.altKey); drag.painting = true; }
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 4) drag.moved = true;
    if (drag.painting) {
      if (e.target === canvas) brushAt(current(), ...imagePoint(e), e.altKey);
      return;
    }
    if (!drag.moved) return;
    state.view = pannedView(canvas, drag, e);
    draw();
  });
  window.addEventListener("mouseup", (e) => {
    const was = drag;
    drag = null;
    if (!was || was.moved || was.painting || was.button !== 0 || e.target !== canvas) return;
    const item = current();
    const [x, y] = imagePoint(e);
    if (x < 0 || y < 0 || x >= item.width || y >= item.height) return;
    const tool = $("ann-tool").value;
    if (tool === "polygon") { state.polygon.push([x + 0.5, y + 0.5]); return draw(); }
    const under = item.labels[y * item.width + x];
    if (e.altKey) return regionAt(item, x, y, "remove");
    if (e.shiftKey) return regionAt(item, x, y, "add");
    if (under) { state.selected = under; renderFlakes(); return draw(); }  // a click on a flake selects it
    regionAt(item, x, y, "new");
  });
  canvas.addEventListener("dblclick", () => ($("ann-tool").value === "polygon" ? closePolygon() : fitView()));
  canvas.addEventListener("wheel", (e) => {
    if (!current()) return;
    e.preventDefault();
    state.view = zoomedView(canvas, state.view, e);
    draw();
  }, { passive: false });
  window.addEventListener("keydown", (e) => {
    if ($("page-annotate").hidden || e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); return e.shiftKey ? redo() : undo(); }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "y") { e.preventDefault(); return redo(); }
    if (/^[1-9]$/.test(e.key)) return setClass(parseInt(e.key, 10));
    if (e.key === "Delete" || e.key === "Backspace") return deleteSelected();
    if (e.key === "Enter") return closePolygon();
    if (e.key === "Escape") { state.polygon = []; state.selected = 0; renderFlakes(); draw(); }
  });
  $("ann-undo").addEventListener("click", undo);
  $("ann-redo").addEventListener("click", redo);
  $("ann-tolerance").addEventListener("input", () => { $("ann-tolerance-value").textContent = Number($("ann-tolerance").value).toFixed(2); remember(); });
  $("ann-tool").addEventListener("change", () => { state.polygon = []; draw(); remember(); });
  $("ann-plane").addEventListener("change", drawScatter);
  for (const id of ["ann-material", "ann-oxide", "ann-layers"]) $(id).addEventListener("change", loadGuides);
  $("ann-dataset").addEventListener("change", () => openDataset($("ann-dataset").value));
  $("ann-create").addEventListener("click", () => createDataset($("ann-new-name").value).catch((e) => status(e.message, "error")));
  $("ann-export").addEventListener("click", (e) => { e.preventDefault(); if (state.dataset) location.href = datasetPath("export"); });
  $("ann-train").addEventListener("click", train);
  const zone = $("ann-drop");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); addFiles([...e.dataTransfer.files]); });
  $("ann-input").addEventListener("change", (e) => { addFiles([...e.target.files]); e.target.value = ""; });
  window.addEventListener("resize", () => draw());

  function fillGuideModels() {
    if (!app.models) return;
    const select = $("ann-guide");
    const picked = select.value;
    const dense = app.models.segmentation.filter((m) => m.status === "ready" && m.type === "dense");
    select.replaceChildren(element("option", { value: "none" }, "none (contrast alone)"),
                           ...dense.map((m) => element("option", { value: m.name }, m.name)));
    if ([...select.options].some((o) => o.value === picked)) select.value = picked;
  }
  document.addEventListener("models-changed", fillGuideModels);

  let started = false;
  app.pages.annotate = {
    // What is drawn: per image file, per flake its class and row-major pixel indices (the round-trip test).
    snapshot: () => Object.fromEntries(state.images.map((item) => {
      const flakes = new Map();
      item.labels.forEach((id, p) => {
        if (!id) return;
        if (!flakes.has(id)) flakes.set(id, { cls: item.classes.get(id) || 1, pixels: [] });
        flakes.get(id).pixels.push(p);
      });
      return [item.file_name, [...flakes.values()]];
    })),
    show: async () => {
      fillGuideModels();
      if (started) return draw();
      started = true;
      if (saved.tolerance) $("ann-tolerance").value = saved.tolerance;
      if (saved.tool) $("ann-tool").value = saved.tool;
      if (saved.oxide) $("ann-oxide").value = saved.oxide;
      $("ann-tolerance-value").textContent = Number($("ann-tolerance").value).toFixed(2);
      setClass(saved.cls || 1);
      loadGuides();
      try {
        const list = await fillDatasets(saved.dataset);
        const name = list.some((d) => d.name === saved.dataset) ? saved.dataset : list.length ? list[0].name : null;
        await openDataset(name);
        status(name ? `dataset ${name}` : "Create a dataset or drop images to start one.");
      } catch (e) {
        status(e.message, "error");
      }
    },
  };
})();
