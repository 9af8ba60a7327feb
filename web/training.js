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

  // The loss of the newest job that reports one.
  function drawLoss(jobs) {
    const job = jobs.find((j) => j.loss && j.loss.length);
    $("loss-title").textContent = job ? `job ${job.id}, ${job.model}` : "(no job has reported a loss yet)";
    drawLossCurve($("loss-curve"), job ? job.loss : []);
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
