// Scans page, review view (#scans/NAME): every candidate of a scan as a gallery (review_gallery.js) sorted and
// filtered on the server; the keyboard sets verdicts and classes (PUT .../candidates/{id}) with the full image
// beside, zoomed to the current candidate; the accepted flakes as a list for the transfer stage; Re-rank.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const canvas = $("review-canvas");
  const ctx = canvas.getContext("2d");
  const VERDICT_COLOURS = { accept: "#12b76a", reject: "#f04438", none: "#fdb022" };
  const PICTURES_KEPT = 6;  // full images kept decoded: the current one and its neighbours
  const state = {
    scan: null, classes: [], undo: [], queue: Promise.resolve(),
    pictures: new Map(), decoded: new Map(), view: null, candidate: null, countsTimer: null, acceptedTimer: null,
  };
  const scanPath = (...parts) => ["api/scans", encodeURIComponent(state.scan), ...parts].join("/");
  const status = (text, kind) => showMessage($("review-counts"), text, kind || "muted");

  // --- the query ----------------------------------------------------------------------------------------
  // The filters as query parameters (empty ones left out); `overrides` replace or add some.
  function filterQuery(overrides = {}) {
    const query = {
      sort: $("review-sort").value, order: $("review-order").value, class: $("review-class").value,
      min_score: $("review-min-score").value, min_area_um2: $("review-min-area").value,
      max_uncertainty: $("review-max-uncertainty").value, verdict: $("review-verdict").value, ...overrides,
    };
    return new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v !== undefined));
  }
  const fetchCandidates = (overrides) => api(`${scanPath("candidates")}?${filterQuery(overrides)}`);

  const gallery = createGallery($("review-gallery"), {
    fetchPage: async (offset, limit) => {
      const answer = await fetchCandidates({ offset, limit });
      learnClasses(answer.candidates.map((c) => c.class));
      return answer;
    },
    renderCell: candidateCell,
    onTotal: () => scheduleCounts(),
    onError: (e) => status(e.message, "error"),
  });

  function candidateCell(c, index) {
    if (!c) return element("div", { class: "cell loading" }, element("div", { class: "thumb" }), `#${index + 1}`);
    const verdict = c.verdict || "none";
    return element("div", {
      class: `cell ${verdict}`, "data-id": c.id, "data-verdict": verdict, "data-class": c.class,
      title: `${c.image}\nclass ${c.class} · score ${c.score.toFixed(3)} · uncertainty ${c.uncertainty.toFixed(2)}`,
      onclick: () => act(() => show(index)),
    },
    element("img", { class: "thumb", src: scanPath("candidates", c.id, "thumbnail"), alt: "", loading: "lazy" }),
    element("div", {}, element("span", { class: "swatch", style: `background:${classColour(state.classes, c.class)}` }),
            `${c.class} · ${c.score.toFixed(2)}`),
    element("div", { class: "muted" }, `#${index + 1} · ${c.area_um2.toFixed(0)} µm²`));
  }

  // The classes offered by the class filter and the number keys: those of the candidates seen so far.
  function learnClasses(names) {
    const known = new Set(state.classes);
    const fresh = names.filter((c) => !known.has(c));
    if (!fresh.length) return;
    state.classes = [...known, ...new Set(fresh)].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    const select = $("review-class");
    const picked = select.value;
    select.replaceChildren(element("option", { value: "" }, "all"), ...state.classes.map((c) => element("option", { value: c }, c)));
    select.value = picked;
  }

  // Every keyboard and mouse action runs after the previous one has finished, so fast typing keeps its order.
  function act(action) {
    state.queue = state.queue.then(action).catch((e) => status(e.message, "error"));
    return state.queue;
  }

  // --- the current candidate ----------------------------------------------------------------------------
  async function show(index) {
    const c = await gallery.select(index);
    if (!c) return;
    state.candidate = c;
    state.view = candidateView(c);
    draw();
    describe(c, index);
    picture(c.image_id).then(() => { if (state.candidate === c) draw(); }, (e) => status(e.message, "error"));
    const next = gallery.at(index + 1);
    if (next) picture(next.image_id).catch(() => {});  // the next image decodes while this one is reviewed
  }

  // Loads a scan image (GET .../images/{id}) once; draw() uses it when it has been decoded.
  function picture(imageId) {
    if (!state.pictures.has(imageId)) {
      const image = new Image();
      image.src = scanPath("images", imageId);
      state.pictures.set(imageId, image.decode().then(() => state.decoded.set(imageId, image)));
      if (state.pictures.size > PICTURES_KEPT) {
        const oldest = state.pictures.keys().next().value;
        state.pictures.delete(oldest);
        state.decoded.delete(oldest);
      }
    }
    return state.pictures.get(imageId);
  }

  // The view with the candidate in the middle, taking about 40% of the canvas (at most 6x magnified).
  function candidateView(c) {
    syncCanvasSize(canvas);
    const [x, y, w, h] = c.bbox;
    const scale = Math.min(6, 0.4 * Math.min(canvas.width / Math.max(w, 12), canvas.height / Math.max(h, 12)));
    return { scale, x: x + w / 2 - canvas.width / 2 / scale, y: y + h / 2 - canvas.height / 2 / scale };
  }

  function draw() {
    syncCanvasSize(canvas);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const c = state.candidate;
    if (!c) return;
    const { scale, x, y } = state.view;
    ctx.setTransform(scale, 0, 0, scale, -x * scale, -y * scale);
    ctx.imageSmoothingEnabled = scale < 2;
    const image = state.decoded.get(c.image_id);
    if (image) ctx.drawImage(image, 0, 0);
    const [bx, by, bw, bh] = c.bbox;
    const margin = 6 / scale;
    ctx.lineWidth = 2.5 / scale;
    ctx.strokeStyle = VERDICT_COLOURS[c.verdict || "none"];
    ctx.strokeRect(bx - margin, by - margin, bw + 2 * margin, bh + 2 * margin);
    canvas.dataset.view = JSON.stringify(state.view);
    canvas.dataset.candidate = String(c.id);
    canvas.dataset.image = image ? String(c.image_id) : "";  // what the browser test waits for
  }

  // µm per pixel from the candidate's two areas (the scan's calibration).
  const umPerPx = (c) => (c.area_px > 0 ? Math.sqrt(c.area_um2 / c.area_px) : NaN);
  const pair = (a, b, digits) => `${a.toFixed(digits)}, ${b.toFixed(digits)}`;
  const centreUm = (c) => (c.center_um ? pair(c.center_um[0], c.center_um[1], 1)
                                        : pair(c.center[0] * umPerPx(c), c.center[1] * umPerPx(c), 1));
  const stage = (c) => (c.stage_x_um == null || c.stage_y_um == null ? "—" : pair(c.stage_x_um, c.stage_y_um, 1));

  function describe(c, index) {
    const rows = [
      ["Rank", `${index + 1} of ${gallery.total}`], ["Image", c.image], ["Class", c.class],
      ["Verdict", c.verdict || "not reviewed"], ["Score", c.score.toFixed(3)], ["Uncertainty", c.uncertainty.toFixed(2)],
      ["Area", `${c.area_um2.toFixed(1)} µm² (${c.area_px} px)`], ["Centre (px)", pair(c.center[0], c.center[1], 0)],
      ["Centre (µm)", centreUm(c)], ["Stage (µm)", stage(c)],
    ];
    $("review-current").tBodies[0].replaceChildren(...rows.map(([k, v]) => element("tr", {}, element("th", {}, k), element("td", {}, v))));
  }

  // --- verdicts -----------------------------------------------------------------------------------------
  async function judge(index, change) {
    const c = gallery.at(index);
    if (!c) return;
    const before = { verdict: c.verdict || null, class: c.class };
    const body = { verdict: "verdict" in change ? change.verdict : before.verdict };
    if (change.class) body.class = change.class;
    await store(c, body);
    state.undo.push({ id: c.id, index, before, relabelled: Boolean(change.class) && change.class !== before.class });
    gallery.redraw(index);
    if (change.verdict && index + 1 < gallery.total) await show(index + 1);
    else await show(index);
  }

  async function store(c, body) {
    const stored = await api(scanPath("candidates", c.id), { method: "PUT", headers: { "Content-Type": "application/json" },
                                                             body: JSON.stringify(body) });
    Object.assign(c, stored);  // the server's word on the verdict and class
    scheduleCounts();
    scheduleAccepted();
  }

  async function undo() {
    const last = state.undo.pop();
    if (!last) return status("nothing to undo");
    const shown = gallery.at(last.index);
    const c = shown && shown.id === last.id ? shown : { id: last.id };  // the filters may have changed since
    await store(c, last.relabelled ? last.before : { verdict: last.before.verdict });
    if (c === shown) { gallery.redraw(last.index); await show(last.index); }
  }

  // Number key d: class "d" where the scan has it, else the scan's d-th class.
  function relabel(digit) {
    const cls = state.classes.includes(digit) ? digit : state.classes[Number(digit) - 1];
    if (!cls) return status(`no class for key ${digit} (classes: ${state.classes.join(", ")})`, "error");
    return judge(gallery.current, { class: cls });
  }

  window.addEventListener("keydown", (e) => {
    if ($("review-view").hidden || $("page-scans").hidden || e.ctrlKey || e.metaKey || e.altKey ||
        ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
    const key = e.key;
    const step = { j: 1, ArrowRight: 1, ArrowDown: 1, k: -1, ArrowLeft: -1, ArrowUp: -1 }[key];
    if (step) { e.preventDefault(); act(() => show(Math.max(0, gallery.current + step))); }
    else if (key === "a") act(() => judge(gallery.current, { verdict: "accept" }));
    else if (key === "r") act(() => judge(gallery.current, { verdict: "reject" }));
    else if (key === "u") act(undo);
    else if (/^[1-9]$/.test(key)) act(() => relabel(key));
  });

  // --- counts, accepted flakes ----------------------------------------------------------------------------
  function scheduleCounts() {
    clearTimeout(state.countsTimer);
    state.countsTimer = setTimeout(() => refreshCounts().catch((e) => status(e.message, "error")), 150);
  }

  async function refreshCounts() {
    if (!state.scan) return;
    const [summary, ...totals] = await Promise.all([api(scanPath()),
      ...["none", "accept", "reject"].map((verdict) => fetchCandidates({ verdict, limit: 1 }).then((a) => a.total))]);
    const [none, accepted, rejected] = totals;
    const scanning = summary.state === "scanning";
    status(`${gallery.total} of ${summary.candidates} candidates (${summary.images_done} images) match · of these ` +
           `${accepted} accepted, ${rejected} rejected, ${none} not reviewed · whole scan: ${summary.reviewed} reviewed, ` +
           `${summary.accepted} accepted` + (scanning ? ` · scanning, ${summary.images_done} of ${summary.images_total} ` +
           "images done (change a filter to see the new candidates)" : ""));
    if (scanning) state.countsTimer = setTimeout(scheduleCounts, 3000);
  }

  function scheduleAccepted() {
    clearTimeout(state.acceptedTimer);
    state.acceptedTimer = setTimeout(() => loadAccepted().catch((e) => status(e.message, "error")), 300);
  }

  async function loadAccepted() {
    const accepted = [];
    for (let total = Infinity; accepted.length < total;) {
      const answer = await api(`${scanPath("candidates")}?verdict=accept&sort=score&order=desc&offset=${accepted.length}&limit=500`);
      accepted.push(...answer.candidates);
      total = answer.candidates.length ? answer.total : accepted.length;
    }
    $("accepted-count").textContent = `(${accepted.length})`;
    $("accepted-table").tBodies[0].replaceChildren(...accepted.map((c, i) => element("tr", { "data-id": c.id },
      element("td", {}, i + 1), element("td", {}, c.image), element("td", {}, c.class),
      element("td", {}, c.area_um2.toFixed(1)), element("td", {}, pair(c.center[0], c.center[1], 0)),
      element("td", {}, centreUm(c)), element("td", {}, stage(c)), element("td", {}, c.score.toFixed(3)))));
  }

  // --- re-rank ------------------------------------------------------------------------------------------
  const RERANK_SHOWN = 20;         // the new top candidates listed with their previous rank
  const RERANK_REMEMBERED = 500;   // previous ranks known before a re-rank (one request)
  const topCandidates = (limit) => api(`${scanPath("candidates")}?sort=score&order=desc&limit=${limit}`).then((a) => a.candidates);
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // POST .../rerank, then follow the scan until it is no longer re-ranking; lists the new top candidates with
  // their rank before.
  async function rerank() {
    const button = $("review-rerank");
    button.disabled = true;
    showMessage($("rerank-status"), "re-ranking…", "muted");
    try {
      const before = new Map((await topCandidates(RERANK_REMEMBERED)).map((c, i) => [c.id, i + 1]));
      let scan = await api(scanPath("rerank"), { method: "POST" });
      while (scan.state === "reranking") {
        await pause(300);
        scan = await api(scanPath());
      }
      if (scan.state === "failed") throw new Error(scan.error || "the re-rank failed");
      showRerank(scan.last_rerank, before, await topCandidates(RERANK_SHOWN));
      await reload();
    } catch (e) {
      showMessage($("rerank-status"), e.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  // The server's account of the last re-rank and, right after one, the new top candidates' moves.
  function showRerank(report, before, top) {
    if (!report) return;
    const correlation = (r) => (typeof r === "number" ? r.toFixed(2) : "—");  // none when every score is equal
    showMessage($("rerank-status"), `Learnt from ${report.positive} positive and ${report.negative} negative examples; ` +
      `rescored ${report.candidates} candidates in ${report.seconds.toFixed(1)} s. ${report.moved_into_top_n} ` +
      `candidates moved into the top ${report.top_n}; rank correlation with the order before: Spearman ` +
      `${correlation(report.spearman)}, Kendall τ ${correlation(report.kendall_tau)}.`, "ok");
    $("rerank-table").tBodies[0].replaceChildren(...(top || []).map((c, i) => {
      const was = before.get(c.id), moved = was ? was - (i + 1) : Infinity;
      const change = moved > 0 ? ["ok", was ? `▲${moved}` : "new"] : moved < 0 ? ["error", `▼${-moved}`] : ["muted", "="];
      return element("tr", { "data-id": c.id, "data-before": was || "" },
        element("td", {}, element("img", { class: "mini", src: scanPath("candidates", c.id, "thumbnail"), alt: "" }),
                ` ${c.image} · ${c.class}`),
        element("td", {}, was || `> ${RERANK_REMEMBERED}`),
        element("td", {}, i + 1, " ", element("span", { class: change[0] }, change[1])),
        element("td", {}, c.score.toFixed(3)));
    }));
  }

  // --- opening a scan -------------------------------------------------------------------------------------
  async function reload() {
    await gallery.reset();
    await show(0);
    scheduleCounts();
    if (!gallery.total) status("no candidate matches the filters");
  }

  for (const id of ["review-sort", "review-order", "review-class", "review-min-score", "review-min-area",
                    "review-max-uncertainty", "review-verdict"]) {
    $(id).addEventListener("change", (e) => { e.target.blur(); act(reload); });
  }
  $("review-rerank").addEventListener("click", rerank);
  addZoomAndPan(canvas, () => Boolean(state.candidate), () => state.view, (view) => { state.view = view; draw(); });
  canvas.addEventListener("dblclick", () => { if (state.candidate) { state.view = candidateView(state.candidate); draw(); } });

  app.review = {
    open(scan) {
      if (state.scan === scan) return;
      Object.assign(state, { scan, classes: [], undo: [], pictures: new Map(), decoded: new Map(), candidate: null });
      $("review-name").textContent = scan;
      $("review-class").replaceChildren(element("option", { value: "" }, "all"));
      // Downloads, under the file names the server gives them.
      const exportLink = (id, query) => Object.assign($(id), { href: `${scanPath("export")}?${query}`, download: "" });
      exportLink("review-export-csv", "format=csv");
      exportLink("review-export-json", "format=json");
      exportLink("review-export-coco", "format=coco");
      exportLink("accepted-export", "format=csv&accepted=1");
      $("rerank-table").tBodies[0].replaceChildren();
      act(async () => {
        const summary = await api(scanPath());
        await reload();
        await loadAccepted();
        showRerank(summary.last_rerank);
      });
    },
    close() {
      state.scan = null;
      clearTimeout(state.countsTimer);
    },
  };
})();
