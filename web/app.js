// Shared by the pages: API calls, page switching, the model list, class colours.
"use strict";

const app = {
  models: null,  // GET /api/models
  pages: {},     // name -> {show()} registered by the page scripts
};

// fetch + JSON; throws Error with the server's message for non-2xx answers.
async function api(path, options = {}) {
  const response = await fetch(path, options);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text }; }
  if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
  return body;
}

async function loadModels() {
  app.models = await api("api/models");
  document.dispatchEvent(new Event("models-changed"));
  return app.models;
}

// The overlay palette of `maskterial detect` (Okabe-Ito, colour-blind friendly), by class position.
const CLASS_COLOURS = ["#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#ffffff"];
function classColour(classNames, name) {
  const i = classNames.indexOf(name);
  return CLASS_COLOURS[(i < 0 ? 0 : i) % CLASS_COLOURS.length];
}

function element(tag, attributes = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// --- zoomable image views (detect and annotate pages): view = {scale, x, y}, image pixel (x, y) at the canvas'
// top left corner ---------------------------------------------------------------------------------------------
// One canvas pixel per CSS pixel, so outlines stay sharp whatever the window size.
function syncCanvasSize(canvas) {
  const rect = canvas.getBoundingClientRect();
  if (rect.width && (canvas.width !== Math.round(rect.width) || canvas.height !== Math.round(rect.height))) {
    canvas.width = Math.round(rect.width);
    canvas.height = Math.round(rect.height);
  }
}

// The view showing a whole width x height image, centred.
function fittedView(canvas, width, height) {
  syncCanvasSize(canvas);
  const scale = Math.min(canvas.width / width, canvas.height / height);
  return { scale, x: -(canvas.width / scale - width) / 2, y: -(canvas.height / scale - height) / 2 };
}

// The view after a wheel event: zoomed in or out around the pointer.
function zoomedView(canvas, view, e) {
  const factor = e.deltaY < 0 ? 1.25 : 0.8;
  const px = e.offsetX * canvas.width / canvas.clientWidth, py = e.offsetY * canvas.height / canvas.clientHeight;
  const ix = view.x + px / view.scale, iy = view.y + py / view.scale;
  const scale = Math.min(40, Math.max(0.02, view.scale * factor));
  return { scale, x: ix - px / scale, y: iy - py / scale };
}

// The view dragged from where a drag started ({x, y, view} of the mousedown) to the pointer of event e.
function pannedView(canvas, drag, e) {
  const k = canvas.width / canvas.clientWidth / drag.view.scale;
  return { ...drag.view, x: drag.view.x - (e.clientX - drag.x) * k, y: drag.view.y - (e.clientY - drag.y) * k };
}

// Wheel zoom and drag pan of an image view canvas: getView() gives its view, setView(view) takes a new one and
// redraws; nothing happens while shown() is false (no image yet).
function addZoomAndPan(canvas, shown, getView, setView) {
  canvas.addEventListener("wheel", (e) => {
    if (!shown()) return;
    e.preventDefault();
    setView(zoomedView(canvas, getView(), e));
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY, view: { ...getView() } }; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", (e) => { if (drag) setView(pannedView(canvas, drag, e)); });
}

// A training loss curve, [step, loss] points on linear axes from the data.
function drawLossCurve(canvas, loss) {
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  canvas.dataset.points = String(loss.length);
  if (!loss.length) return;
  const steps = loss.map((p) => p[0]), values = loss.map((p) => p[1]);
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
  loss.forEach(([x, y], i) => { const [u, v] = at(x, y); if (i) g.lineTo(u, v); else g.moveTo(u, v); });
  g.stroke();
}

function showMessage(target, text, kind) {
  target.textContent = text;
  target.className = kind || "";
}

// "#page" or "#page/argument" (e.g. #scans/chip-12: a scan's review), so a reload comes back to the same place.
function showPage() {
  const [name, ...rest] = (location.hash || "#detect").slice(1).split("/");
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== `page-${name}`;
  for (const link of document.querySelectorAll("nav a[data-page]")) link.classList.toggle("active", link.dataset.page === name);
  if (app.pages[name]) app.pages[name].show(decodeURIComponent(rest.join("/")));
}

async function refreshHealth() {
  const target = document.getElementById("health");
  try {
    const h = await api("api/health");
    target.textContent = `v${h.version} · ${h.workers.threads} workers, ${h.workers.busy} busy` +
      (h.training_job_running ? " · training" : "");
  } catch (e) {
    target.textContent = "server unreachable";
  }
}

window.addEventListener("hashchange", showPage);
window.addEventListener("DOMContentLoaded", () => {
  loadModels().catch((e) => console.error(e));
  refreshHealth();
  setInterval(refreshHealth, 5000);
  showPage();
});
