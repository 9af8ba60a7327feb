// Drives the web page in headless Chromium: detect page (upload, outlines, table, sorting, zoom to a flake),
// models page, training page (a job on the shared GrapheneH images when TRAINING_IMAGES is given). Fails on
// any page error. Usage: node web_page.test.mjs URL IMAGE SCREENSHOT [TRAINING_IMAGES ANNOTATIONS]
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

import { openPage } from "./browser.mjs";

const [url, image, screenshot, trainingImages, annotations] = process.argv.slice(2);
fs.mkdirSync(path.dirname(screenshot), { recursive: true });
const { browser, page, errors } = await openPage({ width: 1360, height: 760 });
try {
  await page.goto(url);
  await page.waitForSelector("#classification-model option[value='graphene-2dmatgmm']", { state: "attached" });
  // The segmentation model choice: the shipped default is picked, "none" is offered.
  await page.waitForSelector("#segmentation-model option[value='none']", { state: "attached" });
  const segmenter = await page.inputValue("#segmentation-model");
  console.log(`segmentation model: ${segmenter}`);
  assert.notEqual(segmenter, "none", "the default segmentation model is not picked");
  // The outline checks below use the classifier's regions (flakes on every demo image).
  await page.selectOption("#segmentation-model", "none");

  // Detect: upload, then the table fills and outlines are drawn.
  await page.setInputFiles("#image-input", image);
  await page.waitForSelector("#flake-table tbody tr", { timeout: 60000 });
  const rows = await page.locator("#flake-table tbody tr").count();
  const segments = Number(await page.getAttribute("#view", "data-outline-segments"));
  console.log(`${rows} flake rows, ${segments} outline segments`);
  assert.ok(rows > 0, "no flake rows");
  assert.ok(segments > 0, "no outline drawn");
  // Outline pixels in the class colours are on the canvas.
  const coloured = await page.evaluate(() => {
    const canvas = document.getElementById("view");
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const palette = [[230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66]];
    let n = 0;
    for (let i = 0; i < data.length; i += 4)
      if (palette.some(([r, g, b]) => Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 30)) n++;
    return n;
  });
  console.log(`${coloured} outline-coloured pixels`);
  assert.ok(coloured > 20, "no outline-coloured pixels on the canvas");
  await page.screenshot({ path: screenshot });

  // The page's RLE decoder gives every flake exactly the area the server counted.
  const decodedAreas = await page.evaluate(async (base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const form = new FormData();
    form.append("image", new Blob([bytes]), "again.jpg");
    form.append("segmentation_model", "none");
    const result = await (await fetch("api/predict", { method: "POST", body: form })).json();
    return result.flakes.map((f) => {
      const box = [Math.floor(f.bbox[0]), Math.floor(f.bbox[1]), Math.ceil(f.bbox[2]), Math.ceil(f.bbox[3])];
      return [rleToBoxMask(f.segmentation, box).reduce((a, b) => a + b, 0), f.area];
    });
  }, fs.readFileSync(image).toString("base64"));
  assert.equal(decodedAreas.length, rows);
  for (const [decoded, area] of decodedAreas) assert.equal(decoded, area, "RLE decoded to a different area");

  // Sorting by area, both directions.
  const areas = async () => (await page.locator("#flake-table tbody tr td:nth-child(3)").allTextContents()).map(Number);
  await page.click("#flake-table th[data-key='area_um2']");
  const ascending = await areas();
  assert.deepEqual(ascending, [...ascending].sort((a, b) => a - b), "not sorted ascending");
  await page.click("#flake-table th[data-key='area_um2']");
  const descending = await areas();
  assert.deepEqual(descending, [...descending].sort((a, b) => b - a), "not sorted descending");

  // Clicking a row selects that flake and zooms in on it.
  const before = await page.evaluate(() => document.getElementById("view").toDataURL());
  await page.click("#flake-table tbody tr:first-child");
  await page.waitForSelector("#flake-table tbody tr.selected");
  const after = await page.evaluate(() => document.getElementById("view").toDataURL());
  assert.notEqual(before, after, "the view did not change when a flake was picked");

  // Models page lists the built-in model; training page shows its form and job table.
  await page.click("nav a[data-page='models']");
  await page.waitForSelector(".model-table td:has-text('graphene-2dmatgmm')");
  await page.click("nav a[data-page='training']");
  await page.waitForSelector("#training-form", { state: "visible" });
  await page.waitForSelector("#job-table", { state: "visible" });

  // A training job from the page: progress shown, then the model appears on the models page and in the
  // detect page's model choice.
  if (trainingImages && fs.existsSync(trainingImages)) {
    await page.fill("#training-form input[name=model]", "graphene-lab");
    await page.setInputFiles("#training-form input[name=images]",
                             fs.readdirSync(trainingImages).map((f) => path.join(trainingImages, f)));
    await page.setInputFiles("#training-form input[name=annotations]", annotations);
    await page.click("#training-form button");
    await page.waitForSelector("#job-table tbody tr td.ok", { timeout: 120000 });
    const job = await page.textContent("#job-table tbody tr:first-child");
    console.log(`training job: ${job.slice(0, 60)}…`);
    assert.match(job, /succeeded/);
    assert.match(job, /100%/);
    await page.click("nav a[data-page='models']");
    await page.waitForSelector(".model-table td:has-text('graphene-lab')");
    await page.click("nav a[data-page='detect']");
    await page.waitForSelector("#classification-model option[value='graphene-lab']", { state: "attached" });

    // A segmentation model fine-tuned from the page (a few iterations): its loss curve is drawn, then it is
    // offered on the detect page.
    await page.click("nav a[data-page='training']");
    await page.fill("#training-form input[name=model]", "graphene-seg");
    await page.selectOption("#training-form select[name=type]", "segmenter");
    await page.waitForSelector("#segmenter-options", { state: "visible" });
    await page.fill("#training-form input[name=iterations]", "3");
    await page.fill("#training-form input[name=crop_size]", "128");
    await page.setInputFiles("#training-form input[name=images]",
                             fs.readdirSync(trainingImages).map((f) => path.join(trainingImages, f)));
    await page.setInputFiles("#training-form input[name=annotations]", annotations);
    await page.click("#training-form button");
    await page.waitForFunction(() => {
      const row = document.querySelector("#job-table tbody tr:first-child");
      return row && row.textContent.includes("graphene-seg") && row.querySelector("td:nth-child(3)").textContent === "succeeded";
    }, null, { timeout: 240000 });
    const points = Number(await page.getAttribute("#loss-curve", "data-points"));
    console.log(`segmenter job: ${points} loss points drawn`);
    assert.ok(points > 0, "no loss curve");
    await page.click("nav a[data-page='detect']");
    await page.waitForSelector("#segmentation-model option[value='graphene-seg']", { state: "attached" });
  } else {
    console.log("training job part skipped: no training images given");
  }

  assert.deepEqual(errors, [], errors.join("\n"));
  console.log("web page test passed");
} finally {
  await browser.close();
}
