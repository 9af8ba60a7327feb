// The review page's gallery: a virtual grid of candidate thumbnails that stays fast for a scan of 200,000
// candidates. Only the rows in sight (and one either side) exist in the page, and candidates are fetched a page
// at a time as they come into sight, so scrolling anywhere is one request.
"use strict";

const GALLERY_PAGE = 120;                      // candidates per request
const GALLERY_CELL = { width: 138, height: 166 };  // px, a thumbnail with two caption lines (style.css .cell)

// options: fetchPage(offset, limit) -> {total, candidates}; renderCell(candidate or undefined, index) -> element;
// onTotal(total); onError(error).
function createGallery(container, options) {
  const spacer = element("div", { class: "gallery-spacer" });
  container.replaceChildren(spacer);
  const g = { total: 0, pages: new Map(), cells: new Map(), generation: 0, current: -1, frame: 0 };

  const columns = () => Math.max(1, Math.floor(container.clientWidth / GALLERY_CELL.width));
  function at(index) {
    const page = g.pages.get(Math.floor(index / GALLERY_PAGE));
    return Array.isArray(page) ? page[index % GALLERY_PAGE] : undefined;
  }

  // Fetches the page holding `index` unless it is there or on its way; resolves when it is there.
  function load(index) {
    const number = Math.floor(index / GALLERY_PAGE);
    const known = g.pages.get(number);
    if (known) return Promise.resolve(known);
    const generation = g.generation;
    const promise = options.fetchPage(number * GALLERY_PAGE, GALLERY_PAGE).then((answer) => {
      if (generation !== g.generation) return;
      g.pages.set(number, answer.candidates);
      if (answer.total !== g.total) { g.total = answer.total; options.onTotal(g.total); }
      render();
    }, (error) => {
      if (generation === g.generation) g.pages.delete(number);
      options.onError(error);
    });
    g.pages.set(number, promise);
    return promise;
  }

  function place(cell, index, cols) {
    cell.style.left = `${(index % cols) * GALLERY_CELL.width}px`;
    cell.style.top = `${Math.floor(index / cols) * GALLERY_CELL.height}px`;
  }

  function render() {
    const cols = columns();
    spacer.style.height = `${Math.ceil(g.total / cols) * GALLERY_CELL.height}px`;
    const firstRow = Math.max(0, Math.floor(container.scrollTop / GALLERY_CELL.height) - 1);
    const lastRow = Math.ceil((container.scrollTop + container.clientHeight) / GALLERY_CELL.height) + 1;
    const first = firstRow * cols, end = Math.min(g.total, (lastRow + 1) * cols);
    for (const [index, cell] of g.cells) {
      if (index < first || index >= end) { cell.remove(); g.cells.delete(index); }
    }
    for (let index = first; index < end; index++) {
      const candidate = at(index);
      if (!candidate) load(index);
      let cell = g.cells.get(index);
      if (!cell || cell.candidate !== candidate) {
        const fresh = options.renderCell(candidate, index);
        fresh.candidate = candidate;
        if (cell) cell.replaceWith(fresh); else container.append(fresh);
        g.cells.set(index, cell = fresh);
      }
      place(cell, index, cols);
      cell.classList.toggle("current", index === g.current);
    }
    container.dataset.total = String(g.total);
  }

  function scheduleRender() {
    if (!g.frame) g.frame = requestAnimationFrame(() => { g.frame = 0; render(); });
  }
  container.addEventListener("scroll", scheduleRender);
  window.addEventListener("resize", scheduleRender);

  return {
    get total() { return g.total; },
    get current() { return g.current; },
    at,
    // Forgets every page (the filters or the order changed) and starts again from the top.
    reset() {
      g.generation++;
      g.pages.clear();
      for (const cell of g.cells.values()) cell.remove();
      g.cells.clear();
      g.current = -1;
      container.scrollTop = 0;
      return load(0);
    },
    // Makes `index` the current candidate, scrolled into sight; resolves to it (undefined when out of range).
    async select(index) {
      if (index < 0 || index >= g.total) return undefined;
      g.current = index;
      const top = Math.floor(index / columns()) * GALLERY_CELL.height;
      if (top < container.scrollTop) container.scrollTop = top;
      else if (top + GALLERY_CELL.height > container.scrollTop + container.clientHeight)
        container.scrollTop = top + GALLERY_CELL.height - container.clientHeight;
      render();
      if (!at(index)) await load(index);
      return at(index);
    },
    // Draws a candidate's cell again (its verdict or class changed).
    redraw(index) {
      const cell = g.cells.get(index);
      if (cell) { cell.remove(); g.cells.delete(index); }
      render();
    },
    render,
  };
}
