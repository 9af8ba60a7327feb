// Training page: upload images + COCO annotations as a job (POST /api/jobs): a classifier or a fine-tuned
// segmentation model; follow every job's progress and loss curve, cancel a running one.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let timer = null;

  const active = (job) => job.state === "running" || job.state === "cancelling";

  function jobRow(job) {
    const bar = element("progress", { max: "1", value: String(job.progress) });
    const notes = job.error ? element("span", { class: "error" }, job.error)
                            : element("span", { class: "muted" }, job.warnings.join("; "));
    const cancel = element("button", { class: "secondary", onclick: () => cancelJob(job.id) }, "Cancel");
    cancel.disabled = job.state !== "running";
    return element("tr", { "data-job": job.id },
      element("td", {}, job.id), element("td", {}, `${job.model} (${job.type})`),
      element("td", { class: job.state === "failed" ? "error" : job.state === "succeeded" ? "ok" : "" }, job.state),
      element("td", {}, bar, ` ${Math.round(job.progress * 100)}%`),
      element("td", {}, job.stage), element("td", {}, job.seconds.toFixed(1)), element("td", {}, notes),
      element("td", {}, cancel));
  }

  // The loss of the newest job that reports one: [step, loss] points, linear axes from the data.
  function drawLoss(jobs) {
    const canvas = $("loss-curve");
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    const job = jobs.find((j) => j.loss && j.loss.length);
    canvas.dataset.points = job ? String(job.loss.length) : "0";
    $("loss-title").textContent = job ? `job ${job.id}, ${job.model}` : "(no job has reported a loss yet)";
    if (!job) return;
    const steps = job.loss.map((p) => p[0]), values = job.loss.map((p) => p[1]);
    const [x0, x1] = [Math.min(...steps), Math.max(...steps, Math.min(...steps) + 1)];
    const [y0, y1] = [Math.min(...values, 0), Math.max(...values) || 1];
    const pad = 30, w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
    const at = (x, y) => [pad + (w * (x - x0)) / (x1 - x0), pad + h - (h * (y - y0)) / (y1 - y0)];
    g.strokeStyle = "#888";
    g.strokeRect(pad, pad, w, h);
    g.fillStyle = "#444";
    g.fillText(y1.toPrecision(3), 2, pad + 4);
    g.fillText(String(x1), pad + w - 20, pad + h + 14);
    g.strokeStyle = "#0072b2";
    g.lineWidth = 2;
    g.beginPath();
    job.loss.forEach(([x, y], i) => { const [u, v] = at(x, y); if (i) g.lineTo(u, v); else g.moveTo(u, v); });
    g.stroke();
  }

  async function cancelJob(id) {
    try {
      await api(`api/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });
    } catch (e) {
      showMessage($("training-status"), e.message, "error");
    }
    refresh();
  }

  async function refresh() {
    try {
      const jobs = await api("api/jobs");
      $("job-table").tBodies[0].replaceChildren(...jobs.map(jobRow));
      drawLoss(jobs);
      const running = jobs.some(active);
      clearTimeout(timer);
      if (!$("page-training").hidden) timer = setTimeout(refresh, running ? 500 : 3000);
      if (!running && jobs.some((j) => j.state === "succeeded")) loadModels();
    } catch (e) {
      showMessage($("training-status"), e.message, "error");
    }
  }

  // XMLHttpRequest rather than fetch: it reports upload progress, and training sets can be large.
  function post(body) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      const bar = $("training-upload");
      bar.hidden = false;
      request.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
      request.onload = () => {
        bar.hidden = true;
        let answer = {};
        try { answer = JSON.parse(request.responseText); } catch (e) { answer = { error: request.responseText }; }
        if (request.status >= 200 && request.status < 300) resolve(answer);
        else reject(new Error(answer.error || `HTTP ${request.status}`));
      };
      request.onerror = () => { bar.hidden = true; reject(new Error("upload failed (connection lost)")); };
      request.open("POST", "api/jobs");
      request.send(body);
    });
  }

  $("training-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const body = new FormData();
    body.append("model", form.model.value);
    body.append("type", form.type.value);
    if (form.type.value === "segmenter") {
      body.append("base", form.base.value);
      for (const field of ["iterations", "crop_size"]) if (form[field].value) body.append(field, form[field].value);
    }
    if (form.overwrite.checked) body.append("overwrite", "1");
    body.append("annotations", form.annotations.files[0], form.annotations.files[0].name);
    for (const file of form.images.files) body.append("images", file, file.name);
    showMessage($("training-status"), "uploading…", "muted");
    try {
      const job = await post(body);
      showMessage($("training-status"), `job ${job.id} started: training '${job.model}' on ${job.images} image(s)` +
        (job.warnings.length ? ` (${job.warnings.length} warning(s))` : ""), "ok");
    } catch (err) {
      showMessage($("training-status"), err.message, "error");
    }
    refresh();
  });

  // Segmenter jobs start from a segmentation model (the default one unless another is picked).
  function fillBases() {
    const select = $("training-form").base;
    const picked = select.value;
    const ready = app.models ? app.models.segmentation.filter((m) => m.status === "ready") : [];
    select.replaceChildren(...ready.map((m) => element("option", { value: m.name }, m.name + (m.default ? " (default)" : ""))));
    const fallback = ready.find((m) => m.default);
    if ([...select.options].some((o) => o.value === picked)) select.value = picked;
    else if (fallback) select.value = fallback.name;
  }
  // The job types the server offers (GET /api/models: training_types), GMM first as the quickest.
  function fillTypes() {
    const select = $("training-form").type;
    if (!app.models || !app.models.training_types || select.dataset.filled) return;
    const types = [...app.models.training_types].sort((a, b) => (b.type === "gmm") - (a.type === "gmm"));
    select.replaceChildren(...types.map((t) => element("option", { value: t.type, title: t.description },
                                                       `${t.type} (${t.kind}): ${t.description}`)));
    select.dataset.filled = "1";
  }
  document.addEventListener("models-changed", fillTypes);
  $("training-form").type.addEventListener("change", (e) => { $("segmenter-options").hidden = e.target.value !== "segmenter"; });
  document.addEventListener("models-changed", fillBases);

  app.pages.training = { show: () => { fillTypes(); fillBases(); refresh(); } };
})();
