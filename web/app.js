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

function showMessage(target, text, kind) {
  target.textContent = text;
  target.className = kind || "";
}

function showPage() {
  const name = (location.hash || "#detect").slice(1);
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== `page-${name}`;
  for (const link of document.querySelectorAll("nav a[data-page]")) link.classList.toggle("active", link.dataset.page === name);
  if (app.pages[name]) app.pages[name].show();
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
