// Timeline: every photo by date taken, grouped by month, virtualised (only the rows on
// screen are in the page), so 20 000 photos show at once and scroll smoothly.
"use strict";

(() => {
  const { api, el, plural, tile, main, message, fail, on } = ark;
  const GAP = 4;
  const HEADER = 52;
  const BUFFER = 800; // px rendered above and below the screen
  const albumMatch = location.pathname.match(/^\/albums\/(\d+)/);
  const albumId = albumMatch ? Number(albumMatch[1]) : null;

  let data = null;
  let layout = { rows: [], height: 0, cols: 1, size: 180 };
  const shown = new Map(); // row index -> element
  let canvas = null;
  let heading = null;

  function computeLayout() {
    const width = canvas.clientWidth || main().clientWidth;
    const cols = Math.max(2, Math.floor((width + GAP) / (180 + GAP)));
    const size = Math.floor((width - GAP * (cols - 1)) / cols);
    const rows = [];
    let y = 0;
    for (const month of data.months) {
      rows.push({ y, h: HEADER, month });
      y += HEADER;
      for (let i = 0; i < month.items.length; i += cols) {
        rows.push({ y, h: size + GAP, items: month.items.slice(i, i + cols) });
        y += size + GAP;
      }
    }
    layout = { rows, height: y, cols, size };
    canvas.style.height = `${y}px`;
    for (const node of shown.values()) node.remove();
    shown.clear();
  }

  function firstRowAt(y) {
    let lo = 0; let hi = layout.rows.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const r = layout.rows[mid];
      if (r.y + r.h < y) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function rowNode(row) {
    if (row.month) {
      return el("div", { class: "month" }, row.month.label, el("small", { text: plural(row.month.items.length, "item") }));
    }
    const suffix = albumId !== null ? `?album=${albumId}` : "";
    const node = el("div", { class: "row" });
    for (const [id, kind] of row.items) {
      const t = tile(id, kind, `/photos/${id}${suffix}`, true);
      t.style.width = `${layout.size}px`;
      t.style.height = `${layout.size}px`;
      node.append(t);
    }
    return node;
  }

  // Thumbnails are asked for once the scroll rests (LOAD_AFTER ms): the rows on screen first,
  // then the buffer. A fast scroll through 20 000 photos asks for none of those it passes.
  const LOAD_AFTER = 90;
  let loadTimer = null;
  function loadRows() {
    const top = window.scrollY - canvas.offsetTop;
    const bottom = top + window.innerHeight;
    const near = [];
    const far = [];
    for (const [i, node] of shown) {
      const r = layout.rows[i];
      (r.y + r.h > top && r.y < bottom ? near : far).push(node);
    }
    for (const node of [...near, ...far]) {
      for (const img of node.querySelectorAll("img[data-src]")) {
        img.src = img.dataset.src;
        delete img.dataset.src;
      }
    }
  }
  const loadSoon = () => { clearTimeout(loadTimer); loadTimer = setTimeout(loadRows, LOAD_AFTER); };

  let scheduled = false;
  function render() {
    scheduled = false;
    if (!layout.rows.length) return;
    const top = window.scrollY - canvas.offsetTop;
    const from = firstRowAt(Math.max(0, top - BUFFER));
    const until = top + window.innerHeight + BUFFER;
    const wanted = new Set();
    for (let i = from; i < layout.rows.length && layout.rows[i].y < until; i++) wanted.add(i);
    for (const [i, node] of shown) if (!wanted.has(i)) { node.remove(); shown.delete(i); }
    for (const i of wanted) {
      if (shown.has(i)) continue;
      const row = layout.rows[i];
      const node = rowNode(row);
      node.style.top = `${row.y}px`;
      node.style.height = `${row.h}px`;
      canvas.append(node);
      shown.set(i, node);
    }
    // the month at the top of the screen, in the toolbar
    let m = firstRowAt(Math.max(0, top));
    while (m > 0 && !layout.rows[m].month) m--;
    if (layout.rows[m] && layout.rows[m].month) heading.textContent = layout.rows[m].month.label;
    loadSoon();
  }
  const schedule = () => { if (!scheduled) { scheduled = true; requestAnimationFrame(render); } };

  async function load() {
    const [albums, timeline] = await Promise.all([
      api("/api/albums"),
      api(`/api/timeline${albumId !== null ? `?album=${albumId}` : ""}`),
    ]);
    data = timeline;
    const select = el("select", { "aria-label": "Album", onchange: (e) => {
      location.href = e.target.value ? `/albums/${e.target.value}` : "/";
    } }, el("option", { value: "", text: "All photos" }),
    albums.map((a) => el("option", { value: a.id, text: `${a.name} (${a.files})`, selected: a.id === albumId })));
    const album = albums.find((a) => a.id === albumId);
    heading = el("span", { class: "muted" });
    const title = el("h1", { text: album ? album.name : "Photos" });
    const bar = el("div", { class: "toolbar" }, title,
      el("span", { class: "muted", id: "count", text: plural(data.count, "item") }),
      el("span", { class: "spacer" }), heading, select);
    canvas = el("div", { class: "canvas", id: "timeline" });
    main().replaceChildren(bar);
    if (!data.count) {
      main().append(el("div", { class: "empty", text: album ? "This album is empty." :
        "No photos yet. Back up a folder with `photoark backup FOLDER` or watch one on the Status page." }));
      return;
    }
    main().append(canvas);
    computeLayout();
    render();
    loadRows(); // the first screen at once
  }

  async function refresh() {
    const keep = window.scrollY;
    try {
      data = await api(`/api/timeline${albumId !== null ? `?album=${albumId}` : ""}`);
    } catch (err) { fail(err); return; }
    if (!canvas || !canvas.isConnected) { await load(); return; }
    document.getElementById("count").textContent = plural(data.count, "item");
    computeLayout();
    window.scrollTo(0, keep);
    render();
  }

  window.addEventListener("scroll", schedule, { passive: true });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (data && canvas) { computeLayout(); render(); } }, 100);
  });
  on("library", refresh);
  load().catch((err) => { message(err.message, "empty error"); });
})();
