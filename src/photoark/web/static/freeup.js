// Free up space: local files whose backup the server confirms, by folder, with every kept
// file's reason; apply moves only those to the desktop trash, after a confirmation.
"use strict";

(() => {
  const { api, post, on, el, bytes, plural, main, message, toast, fail, confirm } = ark;
  let plan = null;
  const unchecked = new Set();

  function intro(extra) {
    const input = el("input", { id: "folder", placeholder: "a folder (default: the watched folders)", size: 40 });
    return el("div", {},
      el("div", { class: "toolbar" }, el("h1", { text: "Free up space" }), el("span", { class: "spacer" }), input,
        el("button", { class: "primary", "data-action": "scan", onclick: () => scan(input.value.trim()) }, "Look for files to free up")),
      el("p", { class: "muted", text: "A file is offered only when its content is in your library, no upload of it is under way, and the server confirms its copy. Each is hashed again just before it goes, to the desktop trash (you can still take it back from there)." }),
      extra || "");
  }

  async function scan(folder) {
    try {
      const job = await post("/api/free-up/scan", { paths: folder ? [folder] : [] });
      show(job);
    } catch (err) { fail(err); }
  }

  function show(job) {
    if (job.state === "running") {
      main().replaceChildren(intro(el("div", { class: "panel", id: "scan" }, el("b", { text: job.stage || "Checking files" }),
        el("span", { class: "muted", text: ` ${job.done || 0} files checked` }))));
    } else if (job.state === "failed") {
      main().replaceChildren(intro(el("div", { class: "panel error", text: `${job.error.message}${job.error.hint ? ` — ${job.error.hint}` : ""}` })));
    } else if (job.state === "done") {
      plan = job.result; unchecked.clear(); draw();
    } else {
      main().replaceChildren(intro());
    }
  }

  const chosen = () => plan.folders.flatMap((d) => d.files).filter((f) => !unchecked.has(f.path));

  function draw() {
    const picked = chosen();
    const total = picked.reduce((n, f) => n + f.size, 0);
    const head = el("div", { class: "panel" },
      el("div", { class: "toolbar" },
        el("b", { id: "freeup-summary", text: plan.count ? `${plural(plan.count, "file")}, ${bytes(plan.bytes)} can be freed` : "Nothing to free up" }),
        el("span", { class: "spacer" }),
        el("button", { class: "danger", "data-action": "apply", disabled: !picked.length, onclick: apply },
          `Move ${plural(picked.length, "file")} (${bytes(total)}) to the trash`)));
    const folders = plan.folders.map((d) => {
      const all = el("input", { type: "checkbox", checked: d.files.every((f) => !unchecked.has(f.path)), "aria-label": `All of ${d.path}`,
        onchange: (e) => { d.files.forEach((f) => (e.target.checked ? unchecked.delete(f.path) : unchecked.add(f.path))); draw(); } });
      return el("details", { class: "folder panel", open: plan.folders.length < 6, dataset: { folder: d.path } },
        el("summary", {}, all, ` ${d.path} `, el("span", { class: "muted", text: `${plural(d.files.length, "file")}, ${bytes(d.bytes)}` })),
        el("table", { class: "list" }, d.files.map((f) => el("tr", { dataset: { path: f.path } },
          el("td", { class: "pick" }, el("input", { type: "checkbox", checked: !unchecked.has(f.path), "aria-label": f.name,
            onchange: (e) => { if (e.target.checked) unchecked.delete(f.path); else unchecked.add(f.path); draw(); } })),
          el("td", { class: "pic" }, el("img", { class: "thumb", alt: "", loading: "lazy", src: `/api/photos/${f.id}/thumbnail`,
            onerror: (e) => { e.target.hidden = true; } })),
          el("td", {}, el("a", { href: `/photos/${f.id}`, text: f.name })),
          el("td", { class: "num", text: bytes(f.size) })))));
    });
    const kept = plan.kept.length ? el("details", { class: "panel", id: "kept" },
      el("summary", { text: `${plural(plan.kept.length, "file")} kept, each with its reason` }),
      el("table", { class: "list" }, el("tr", {}, el("th", { text: "File" }), el("th", { text: "Kept because" })),
        plan.kept.map((k) => el("tr", { dataset: { reason: k.reason } }, el("td", { text: k.path }), el("td", { text: k.text }))))) : "";
    main().replaceChildren(intro(el("div", {}, head, folders, kept)));
  }

  async function apply() {
    const picked = chosen();
    const total = picked.reduce((n, f) => n + f.size, 0);
    if (!(await confirm("Free up space?", `${plural(picked.length, "file")} (${bytes(total)}) go to the desktop trash. Their backup stays on the server.`, "Move to trash"))) return;
    try {
      const result = await post("/api/free-up/apply", { paths: picked.map((f) => f.path) });
      const gone = new Set(result.deleted.map((c) => c.path));
      plan.folders.forEach((d) => { d.files = d.files.filter((f) => !gone.has(f.path)); d.bytes = d.files.reduce((n, f) => n + f.size, 0); });
      plan.folders = plan.folders.filter((d) => d.files.length);
      plan.count -= gone.size; plan.bytes -= result.bytes_freed;
      plan.kept = [...result.kept, ...plan.kept];
      draw();
      toast(`${plural(result.deleted.length, "file")} moved to the desktop trash, ${bytes(result.bytes_freed)} freed`);
      if (result.failed.length) fail(new Error(`${result.failed.length} not deleted: ${result.failed[0].error}`));
    } catch (err) { fail(err); }
  }

  on("job", async (job) => {
    if (job.kind !== "freeup") return;
    if (job.state === "running") show(job); else show(await api("/api/free-up"));
  });
  api("/api/free-up").then(show).catch((err) => message(err.message, "empty error"));
})();
