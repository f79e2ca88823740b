// Trash: what was deleted, from which albums, days left; restore, delete for good, empty.
"use strict";

(() => {
  const { api, post, on, el, bytes, plural, main, message, toast, fail, confirm } = ark;
  let items = [];
  const picked = new Set();

  async function load() {
    const data = await api("/api/trash");
    items = data.items;
    for (const id of [...picked]) if (!items.some((t) => t.id === id)) picked.delete(id);
    draw(data.bytes);
  }

  function draw(total) {
    const chosen = [...picked];
    const bar = el("div", { class: "toolbar" },
      el("h1", { text: "Trash" }),
      el("span", { class: "muted", text: items.length ? `${plural(items.length, "file")}, ${bytes(total)}` : "" }),
      el("span", { class: "spacer" }),
      el("button", { "data-action": "restore", disabled: !chosen.length, onclick: () => restore(chosen) }, `Restore (${chosen.length})`),
      el("button", { class: "danger", "data-action": "delete", disabled: !chosen.length, onclick: () => removeForGood(chosen) }, `Delete for good (${chosen.length})`),
      el("button", { class: "danger", "data-action": "empty", disabled: !items.length, onclick: empty }, "Empty trash"));
    if (!items.length) {
      main().replaceChildren(bar, el("div", { class: "empty", text: "The trash is empty." }));
      return;
    }
    const rows = items.map((t) => el("tr", { dataset: { trashId: String(t.id) } },
      el("td", { class: "pick" }, el("input", { type: "checkbox", checked: picked.has(t.id), "aria-label": t.name || `file ${t.id}`,
        onchange: (e) => { if (e.target.checked) picked.add(t.id); else picked.delete(t.id); draw(total); } })),
      el("td", { class: "pic" }, t.has_thumbnail ? el("img", { class: "thumb", alt: "", src: `/api/photos/${t.id}/thumbnail` }) : ""),
      el("td", {}, el("b", { text: t.name || `(file ${t.id})` }), el("div", { class: "muted", text: t.albums.join(", ") || "no album" })),
      el("td", { class: "num", text: bytes(t.stored_bytes) }),
      el("td", { class: "num" }, el("span", { class: `pill ${t.days_left < 3 ? "bad" : t.days_left < 10 ? "warn" : ""}`,
        text: `${Math.floor(t.days_left)} days left` })),
      el("td", {}, el("button", { "data-action": "restore-one", onclick: () => restore([t.id]) }, "Restore"))));
    main().replaceChildren(bar,
      el("p", { class: "muted", text: "Files stay here 30 days, then are deleted for good. Restoring puts a file back into the albums it was deleted from." }),
      el("table", { class: "list" }, el("tr", {}, el("th"), el("th"), el("th", { text: "File" }), el("th", { class: "num", text: "Stored" }),
        el("th", { class: "num", text: "Deleted for good in" }), el("th")), rows));
  }

  async function restore(ids) {
    try {
      const result = await post("/api/trash/restore", { ids });
      ids.forEach((id) => picked.delete(id));
      toast(`${plural(result.restored.length, "file")} restored`);
      await load();
    } catch (err) { fail(err); }
  }

  async function removeForGood(ids) {
    if (!(await confirm("Delete for good?", `${plural(ids.length, "file")} will be deleted from the server now. This cannot be undone.`, "Delete for good"))) return;
    try {
      const result = await post("/api/trash/delete", { ids });
      ids.forEach((id) => picked.delete(id));
      toast(`${plural(result.deleted, "file")} deleted for good, ${bytes(result.bytes)} freed`);
      await load();
    } catch (err) { fail(err); }
  }

  async function empty() {
    if (!(await confirm("Empty the trash?", `All ${plural(items.length, "file")} will be deleted from the server now. This cannot be undone.`, "Empty trash"))) return;
    try {
      const result = await post("/api/trash/empty");
      toast(`${plural(result.deleted, "file")} deleted for good, ${bytes(result.bytes)} freed`);
      await load();
    } catch (err) { fail(err); }
  }

  on("library", () => load().catch(fail));
  load().catch((err) => message(err.message, "empty error"));
})();
