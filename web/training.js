// Training page: upload images + COCO annotations as a job (POST /api/jobs), follow every job's progress.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let timer = null;

  function jobRow(job) {
    const bar = element("progress", { max: "1", value: String(job.progress) });
    const notes = job.error ? element("span", { class: "error" }, job.error)
                            : element("span", { class: "muted" }, job.warnings.join("; "));
    return element("tr", { "data-job": job.id },
      element("td", {}, job.id), element("td", {}, job.model),
      element("td", { class: job.state === "failed" ? "error" : job.state === "succeeded" ? "ok" : "" }, job.state),
      element("td", {}, bar, ` ${Math.round(job.progress * 100)}%`),
      element("td", {}, job.stage), element("td", {}, job.seconds.toFixed(1)), element("td", {}, notes));
  }

  async function refresh() {
    try {
      const jobs = await api("api/jobs");
      $("job-table").tBodies[0].replaceChildren(...jobs.map(jobRow));
      const running = jobs.some((j) => j.state === "running");
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

  app.pages.training = { show: refresh };
})();
