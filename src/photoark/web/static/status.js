// Status: the daemon (pushed live from its status board), watched folders (add/remove),
// failures with their reasons, usage and the largest files. Nothing polls: the page redraws
// when the daemon or the server says something changed.
"use strict";

(() => {
  const { api, post, on, el, bytes, ago, plural, main, message, toast, fail } = ark;
  let report = null;
  let refetch = null;

  function daemonPanel(d) {
    const state = !d.running ? el("span", { class: "pill bad", text: "not running" })
      : d.paused ? el("span", { class: "pill warn", text: "paused" }) : el("span", { class: "pill good", text: d.state });
    const lines = [];
    if (!d.running) lines.push(el("p", { class: "muted" }, "Start it with ", el("code", { text: "photoark daemon" }), " to back up the watched folders continuously."));
    if (d.paused) lines.push(el("p", { id: "paused", text: `Paused: ${d.paused_text || d.paused}` }));
    if (d.current) {
      const c = d.current;
      const pct = c.bytes ? Math.round((100 * c.bytes_done) / c.bytes) : 0;
      const bar = el("div", { class: "progress" }, el("div"));
      bar.firstChild.style.width = `${pct}%`;
      lines.push(el("div", { id: "current" }, el("b", { text: `Backing up into ${c.album}` }),
        el("span", { class: "muted", text: ` ${c.files_done}/${c.files} files, ${bytes(c.bytes_done)} of ${bytes(c.bytes)}` }), bar));
    }
    const waiting = [];
    if (d.queued) waiting.push(`${plural(d.queued, "file")} queued`);
    if (d.settling) waiting.push(`${plural(d.settling, "file")} being written (taken once they hold still)`);
    if (waiting.length) lines.push(el("p", { id: "queued", text: waiting.join(" · ") }));
    return el("section", { class: "panel", id: "daemon" }, el("h2", {}, "Daemon ", state), lines,
      el("p", { class: "muted", text: `Last backup ${ago(report.last_backup)} · last sync ${ago(report.last_sync)}` }));
  }

  function watchesPanel() {
    const path = el("input", { id: "watch-path", placeholder: "/path/to/photos", size: 36 });
    const album = el("input", { id: "watch-album", placeholder: "album (default: folder name)", size: 24 });
    const add = async () => {
      try { await post("/api/watches", { path: path.value, album: album.value || null }); toast(`watching ${path.value}`); await load(); } catch (err) { fail(err); }
    };
    const remove = async (p) => {
      try { await post("/api/watches/remove", { path: p }); toast(`stopped watching ${p}`); await load(); } catch (err) { fail(err); }
    };
    const rows = report.watches.map((w) => el("tr", { dataset: { watch: w.path } },
      el("td", {}, el("b", { text: w.path }), w.exists ? "" : el("span", { class: "pill bad", text: " folder missing" }),
        w.problem ? el("div", { class: "error", text: w.problem }) : ""),
      el("td", { class: "num", text: String(w.seen) }), el("td", { class: "num", text: String(w.backed_up) }),
      el("td", { class: "num", text: String(w.queued) }), el("td", { class: "num", text: String(w.failed) }),
      el("td", {}, el("button", { "data-action": "unwatch", onclick: () => remove(w.path) }, "Stop watching"))));
    const failures = report.watches.flatMap((w) => w.failures.map((f) => el("tr", {}, el("td", { text: f.path }), el("td", { class: "error", text: f.error }))));
    return el("section", { class: "panel", id: "watches" }, el("h2", { text: "Watched folders" }),
      report.watches.length ? el("table", { class: "list" }, el("tr", {}, el("th", { text: "Folder" }), el("th", { class: "num", text: "Seen" }),
        el("th", { class: "num", text: "Backed up" }), el("th", { class: "num", text: "Queued" }), el("th", { class: "num", text: "Failed" }), el("th")), rows)
        : el("p", { class: "muted", text: "No folder is watched yet." }),
      el("div", { class: "toolbar" }, path, album, el("button", { class: "primary", "data-action": "watch", onclick: add }, "Watch folder")),
      failures.length ? el("details", { id: "failures", open: true }, el("summary", { text: `${plural(failures.length, "file")} failed` }),
        el("table", { class: "list" }, failures)) : "");
  }

  function usagePanel() {
    const u = report.usage;
    if (!u) return el("section", { class: "panel" }, el("h2", { text: "Storage" }), el("p", { class: "error", text: report.usage_error || "unknown" }));
    const stat = (label, value) => el("div", { class: "stat" }, el("b", { text: value }), el("span", { class: "muted", text: label }));
    return el("section", { class: "panel", id: "usage" }, el("h2", { text: "Storage" }),
      el("div", { class: "stats" }, stat("files", String(u.files)), stat("stored", bytes(u.stored_bytes)), stat("in the trash", bytes(u.trash_bytes)),
        stat("quota", u.quota_bytes ? bytes(u.quota_bytes) : "none"), stat("saved by dedup", bytes(Math.max(0, u.logical_bytes - u.stored_bytes)))),
      report.largest.length ? el("details", {}, el("summary", { text: "Largest files" }),
        el("table", { class: "list" }, report.largest.map((f) => el("tr", {}, el("td", {}, el("a", { href: `/photos/${f.id}`, text: f.name })),
          el("td", { class: "num", text: bytes(f.size) }))))) : "");
  }

  function draw() {
    // what the user is typing survives a redraw
    const typed = ["watch-path", "watch-album"].map((id) => document.getElementById(id));
    const values = typed.map((input) => (input ? input.value : ""));
    const focused = document.activeElement && document.activeElement.id;
    const extra = [];
    if (report.thumbnails_pending) extra.push(`${plural(report.thumbnails_pending, "thumbnail")} to make`);
    const e = report.embeddings;
    if (e && e.photos) extra.push(`similar-photo embeddings: ${e.embedded}/${e.photos}`);
    main().replaceChildren(el("h1", { text: "Status" }), daemonPanel(report.daemon),
      extra.length ? el("p", { class: "muted", text: extra.join(" · ") }) : "", watchesPanel(), usagePanel());
    ["watch-path", "watch-album"].forEach((id, i) => { document.getElementById(id).value = values[i]; });
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }

  async function load() { report = await api("/api/status"); draw(); }
  const later = () => { clearTimeout(refetch); refetch = setTimeout(() => load().catch(fail), 800); };

  on("status", (board) => {
    if (!report) return;
    // the board's facts at once; the counts behind them follow in one fetch
    Object.assign(report.daemon, { running: board.running, state: board.state, paused: board.paused, current: board.current,
      queued: board.queued, settling: board.settling, paused_text: board.paused ? report.daemon.paused_text || board.paused : null });
    draw();
    later();
  });
  on("library", later);
  load().catch((err) => message(err.message, "empty error"));
})();
