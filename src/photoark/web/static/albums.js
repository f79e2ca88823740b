// Albums: each with its cover and count; opens the album's timeline.
"use strict";

(() => {
  const { api, el, plural, tile, main, message } = ark;
  api("/api/albums").then((albums) => {
    const grid = el("div", { class: "albums" }, albums.map((a) =>
      el("div", { class: "album", dataset: { album: String(a.id) } },
        a.cover ? tile(a.cover, "i", `/albums/${a.id}`) : el("a", { class: "tile", href: `/albums/${a.id}` }),
        el("a", { href: `/albums/${a.id}` }, el("b", { text: a.name })),
        el("span", { class: "muted", text: plural(a.files, "item") }))));
    main().replaceChildren(el("h1", { text: "Albums" }), albums.length ? grid : el("div", { class: "empty", text: "No albums yet." }));
  }).catch((err) => message(err.message, "empty error"));
})();
