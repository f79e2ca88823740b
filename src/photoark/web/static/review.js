// Review of exact duplicates (/duplicates) and similar photos (/similar): each group with the
// suggested keeper and why, every photo's facts with the differences highlighted, keep/trash
// per photo, apply per group or every suggestion, undo, keyboard, side-by-side compare.
"use strict";

(() => {
  const { api, post, on, el, bytes, when, plural, tile, main, message, toast, fail, confirm } = ark;
  const kind = document.body.dataset.page; // "similar" or "duplicates"
  const TIERS = { exact: "Exact copies", near_identical: "Near-identical", similar: "Similar shots" };
  let groups = [];
  let current = 0;
  let canUndo = false;
  let oneAtATime = false;
  const undone = []; // groups taken off the page by each apply, to put back on undo

  const FACTS = [
    ["Resolution", (f) => (f.width && f.height ? `${f.width} × ${f.height}` : "unknown")],
    ["Size", (f) => bytes(f.size)],
    ["Format", (f) => (f.format || "?").toUpperCase()],
    ["Taken", (f) => when(f.taken_at)],
    ["Location", (f) => (f.has_location || f.has_gps ? "yes" : "no")],
    ["Albums", (f) => String(f.album_count ?? (f.albums || []).length)],
  ];
  if (kind === "duplicates") FACTS.push(["Uploaded", (f) => new Date(f.uploaded_at * 1000).toLocaleDateString()]);

  const trashing = (g) => g.files.filter((f) => !f.keep);
  const freed = (files) => files.reduce((n, f) => n + (f.stored || 0), 0);

  function planOf(list) {
    if (kind === "duplicates") {
      return { groups: list.map((g) => ({ keep: g.files.find((f) => f.keep).id, remove: trashing(g).map((f) => f.id) })) };
    }
    return { groups: list.map((g) => ({ tier: g.tier, files: g.files.map((f) => ({ id: f.id, keep: f.keep, distance: f.distance || 0 })) })) };
  }

  function card(g, f, n) {
    const values = FACTS.map(([label, value]) => [label, value(f)]);
    const differs = (label, v) => g.files.some((o) => FACTS.find(([l]) => l === label)[1](o) !== v);
    const set = (keep) => { f.keep = keep; draw(); };
    return el("figure", { class: `card${f.keep ? "" : " trashed"}`, dataset: { photoId: String(f.id) } },
      tile(f.id, f.has_thumbnail === false ? f.type[0].toUpperCase() : f.type, `/photos/${f.id}`),
      el("div", { class: "name", title: f.name, text: f.name }),
      el("div", { class: "why", text: n === 0 && f.reason ? `Suggested keeper: ${f.reason}` : f.reason || "" }),
      el("table", {}, values.map(([label, v]) => el("tr", {}, el("td", { text: label }),
        el("td", { class: differs(label, v) ? "diff" : "", text: v })))),
      el("div", { class: "actions" },
        el("button", { "data-action": "keep", "aria-pressed": String(f.keep), title: `Keep (${n + 1})`, onclick: () => set(true) }, "Keep ", el("span", { class: "key", text: String(n + 1) })),
        el("button", { "data-action": "trash", "aria-pressed": String(!f.keep), title: `Trash (${n + 1})`, onclick: () => set(false) }, "Trash")));
  }

  function section(g, index) {
    const out = trashing(g);
    const none = !g.files.some((f) => f.keep);
    const note = g.tier === "similar" ? "other shots of one moment: nothing is pre-selected" : "";
    return el("section", { class: `group${index === current ? " current" : ""}`, dataset: { group: String(index), tier: g.tier },
      onclick: () => { if (current !== index) { current = index; mark(); } } },
      el("header", {},
        el("span", { class: `tier ${g.tier}`, text: TIERS[g.tier] || g.tier }),
        el("b", { text: plural(g.files.length, "photo") }),
        note && el("span", { class: "muted", text: note }),
        el("span", { class: "spacer" }),
        el("span", { class: "muted", text: out.length ? `${plural(out.length, "photo")} to the trash, frees ${bytes(freed(out))}` : "keeps every photo" }),
        g.files.length > 1 && el("button", { "data-action": "compare", title: "Compare side by side (c)", onclick: (e) => { e.stopPropagation(); compare(g); } }, "Compare"),
        el("button", { class: "primary", "data-action": "apply", disabled: !out.length || none,
          title: none ? "Keep at least one photo" : "Apply (a)", onclick: (e) => { e.stopPropagation(); applyGroups([g], false); } }, "Apply")),
      el("div", { class: "cards" }, g.files.map((f, n) => card(g, f, n))));
  }

  function summary() {
    const suggested = groups.filter((g) => g.tier !== "similar");
    const files = suggested.flatMap((g) => g.files.filter((f) => !f.suggested));
    return el("div", { class: "toolbar" },
      el("h1", { text: kind === "duplicates" ? "Duplicates" : "Similar photos" }),
      el("span", { class: "muted", text: groups.length ? plural(groups.length, "group") : "" }),
      el("span", { class: "spacer" }),
      el("button", { "data-action": "undo", disabled: !canUndo, title: "Undo the last apply (u)", onclick: undo }, "Undo last apply"),
      el("button", { "data-action": "one-at-a-time", "aria-pressed": String(oneAtATime), onclick: () => { oneAtATime = !oneAtATime; draw(); } }, oneAtATime ? "Show all groups" : "One at a time"),
      el("button", { class: "primary", "data-action": "apply-all", disabled: !files.length,
        title: kind === "duplicates" ? "Trash every extra copy" : "Apply every near-identical suggestion (similar shots are never pre-selected)",
        onclick: applyAll }, `Apply all suggestions (${files.length})`));
  }

  function draw() {
    const list = el("div", { class: oneAtATime ? "groups one" : "groups" },
      groups.map((g, i) => (oneAtATime && i !== current ? null : section(g, i))));
    const help = el("p", { class: "muted" }, "Keys: ", el("span", { class: "key", text: "j" }), "/", el("span", { class: "key", text: "k" }),
      " next/previous group · ", el("span", { class: "key", text: "1-9" }), " keep/trash a photo · ", el("span", { class: "key", text: "a" }),
      " apply · ", el("span", { class: "key", text: "c" }), " compare · ", el("span", { class: "key", text: "u" }), " undo");
    main().replaceChildren(summary(), groups.length ? help : "", groups.length ? list :
      el("div", { class: "empty", text: kind === "duplicates" ? "No duplicates: every photo is in the library once." : "No similar photos found." }));
  }

  function mark() {
    document.querySelectorAll(".group").forEach((s) => s.classList.toggle("current", Number(s.dataset.group) === current));
    if (oneAtATime) draw();
    const s = document.querySelector(`.group[data-group="${current}"]`);
    if (s) s.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  async function applyGroups(list, all) {
    const doomed = list.flatMap(trashing);
    if (!doomed.length) return;
    if (all && !(await confirm("Apply all suggestions?",
      `${plural(doomed.length, "photo")} in ${plural(list.length, "group")} go to the trash, freeing ${bytes(freed(doomed))} once it empties. Undo brings them back.`,
      "Move to trash"))) return;
    try {
      const result = await post(`/api/${kind}/apply`, planOf(list));
      canUndo = result.can_undo;
      undone.push(list.map((g) => ({ ...g, files: g.files.map((f) => ({ ...f, keep: f.suggested })) })));
      groups = groups.filter((g) => !list.some((l) => l === g || l.source === g));
      current = Math.min(current, Math.max(0, groups.length - 1));
      draw();
      toast(`${plural(result.trashed, "photo")} moved to the trash`, { action: { label: "Undo", run: undo } });
      if (result.failed && result.failed.length) fail(new Error(`${result.failed.length} not applied: ${result.failed[0].error}`));
    } catch (err) { fail(err); }
  }

  function applyAll() {
    const list = groups.filter((g) => g.tier !== "similar")
      .map((g) => ({ ...g, source: g, files: g.files.map((f) => ({ ...f, keep: f.suggested })) }));
    applyGroups(list, true);
  }

  async function undo() {
    if (!canUndo) return;
    try {
      const result = await post("/api/undo");
      canUndo = result.can_undo;
      const back = undone.pop() || [];
      if (kind === "duplicates") await load(false);
      else { groups = [...back, ...groups]; current = 0; draw(); }
      toast(`${plural(result.restored.length, "photo")} restored from the trash`);
    } catch (err) { fail(err); }
  }

  // side-by-side compare, both panes at the same zoom and position
  function compare(g) {
    let picks = [0, Math.min(1, g.files.length - 1)];
    let zoom = 1; let x = 0; let y = 0;
    const panes = [0, 1].map(() => el("div", { class: "pane" }));
    const images = [];
    function apply() {
      images.forEach((img) => {
        if (!img.naturalWidth) return;
        const pane = img.parentElement;
        const fit = Math.min(pane.clientWidth / img.naturalWidth, pane.clientHeight / img.naturalHeight);
        const s = fit * zoom;
        const ox = (pane.clientWidth - img.naturalWidth * fit) / 2;
        const oy = (pane.clientHeight - img.naturalHeight * fit) / 2;
        img.style.transform = `translate(${ox * zoom + x}px, ${oy * zoom + y}px) scale(${s})`;
      });
    }
    function fill() {
      images.length = 0;
      panes.forEach((pane, i) => {
        const f = g.files[picks[i]];
        const img = el("img", { alt: f.name, draggable: "false", src: `/api/photos/${f.id}/display`, dataset: { photoId: String(f.id) } });
        img.addEventListener("load", apply);
        images.push(img);
        const choose = el("select", { "aria-label": "Photo", onchange: (e) => { picks[i] = Number(e.target.value); fill(); } },
          g.files.map((o, n) => el("option", { value: n, selected: n === picks[i], text: `${n + 1}. ${o.name}` })));
        pane.replaceChildren(img, el("span", { class: "label" }, choose, ` ${o2(f)}`));
      });
    }
    const o2 = (f) => (f.width && f.height ? `${f.width}×${f.height} · ${bytes(f.size)}` : bytes(f.size));
    const zoomAt = (factor, cx, cy) => {
      const next = Math.min(40, Math.max(0.2, zoom * factor));
      x = cx - (cx - x) * (next / zoom); y = cy - (cy - y) * (next / zoom); zoom = next; apply();
    };
    let drag = null;
    panes.forEach((pane) => {
      pane.addEventListener("wheel", (e) => { e.preventDefault(); const r = pane.getBoundingClientRect(); zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top); }, { passive: false });
      pane.addEventListener("pointerdown", (e) => { drag = { sx: e.clientX - x, sy: e.clientY - y }; pane.setPointerCapture(e.pointerId); });
      pane.addEventListener("pointermove", (e) => { if (drag) { x = e.clientX - drag.sx; y = e.clientY - drag.sy; apply(); } });
      pane.addEventListener("pointerup", () => { drag = null; });
    });
    const close = () => { overlay.remove(); document.removeEventListener("keydown", keys, true); };
    const reset = () => { zoom = 1; x = 0; y = 0; apply(); };
    const overlay = el("div", { class: "compare", id: "compare", role: "dialog", "aria-label": "Compare" },
      el("header", {}, el("b", { text: "Compare" }), el("span", { class: "muted", text: "Scroll to zoom, drag to move: both sides follow. + − 0 Esc" }),
        el("span", { class: "spacer" }),
        el("button", { "data-action": "zoom-in", onclick: () => zoomAt(1.5, panes[0].clientWidth / 2, panes[0].clientHeight / 2) }, "+"),
        el("button", { "data-action": "zoom-out", onclick: () => zoomAt(1 / 1.5, panes[0].clientWidth / 2, panes[0].clientHeight / 2) }, "−"),
        el("button", { "data-action": "zoom-reset", onclick: reset }, "Fit"),
        el("button", { "data-action": "close", onclick: close }, "Close")),
      el("div", { class: "panes" }, panes));
    function keys(e) {
      if (e.key === "Escape") close();
      else if (e.key === "+" || e.key === "=") zoomAt(1.5, panes[0].clientWidth / 2, panes[0].clientHeight / 2);
      else if (e.key === "-") zoomAt(1 / 1.5, panes[0].clientWidth / 2, panes[0].clientHeight / 2);
      else if (e.key === "0") reset();
      else return;
      e.stopPropagation(); e.preventDefault();
    }
    document.addEventListener("keydown", keys, true);
    document.body.append(overlay);
    fill();
    window.addEventListener("resize", apply);
  }

  document.addEventListener("keydown", (e) => {
    if (ark.typing(e) || document.getElementById("compare") || document.getElementById("confirm").open || !groups.length) return;
    const g = groups[current];
    if (e.key === "j" || e.key === "ArrowDown") { current = Math.min(groups.length - 1, current + 1); mark(); }
    else if (e.key === "k" || e.key === "ArrowUp") { current = Math.max(0, current - 1); mark(); }
    else if (/^[1-9]$/.test(e.key) && g.files[Number(e.key) - 1]) { const f = g.files[Number(e.key) - 1]; f.keep = !f.keep; draw(); }
    else if (e.key === "a") { if (g.files.some((f) => f.keep)) applyGroups([g], false); }
    else if (e.key === "c") compare(g);
    else if (e.key === "u") undo();
    else return;
    e.preventDefault();
  });

  function take(result) {
    groups = result.groups.map((g) => ({ ...g, files: g.files.map((f) => ({ ...f, suggested: f.keep })) }));
    current = 0;
    draw();
  }

  async function load(scan) {
    canUndo = (await api("/api/undo")).can_undo;
    if (kind === "duplicates") { take(await api("/api/duplicates")); return; }
    let job = await api("/api/similar");
    if (scan || job.state === "idle" || job.state === "failed") job = await post("/api/similar/scan");
    if (job.state === "done") take(job.result);
    else progress(job);
  }

  function progress(job) {
    if (job.state === "failed") { message(`${job.error.message}${job.error.hint ? ` — ${job.error.hint}` : ""}`, "empty error"); return; }
    const pct = job.total ? Math.round((100 * job.done) / job.total) : 0;
    const bar = el("div", { class: "progress" }, el("div"));
    bar.firstChild.style.width = `${pct}%`;
    main().replaceChildren(el("h1", { text: "Similar photos" }), el("div", { class: "panel", id: "scan" },
      el("b", { text: job.stage || "Looking for similar photos" }),
      el("span", { class: "muted", text: job.total ? ` ${job.done} of ${job.total}` : "" }), bar,
      el("p", { class: "muted", text: "Photos are compared on this device, from their thumbnails; the server sees nothing." })));
  }

  if (kind === "similar") {
    on("job", async (job) => {
      if (job.kind !== "similar") return;
      if (job.state === "running") progress(job);
      else if (job.state === "done") {
        const now = await api("/api/similar");
        if (now.state === "done") take(now.result); else load(false);
      }
      else if (job.state === "failed") progress(job);
    });
  }
  load(false).catch((err) => message(err.message, "empty error"));
})();
