// Photo view: the original (decrypted by this device), a video that plays, a Live Photo's
// motion; its facts; previous/next with the arrow keys, back with Escape.
"use strict";

(() => {
  const { api, el, bytes, when, main, message } = ark;
  const id = Number(location.pathname.split("/")[2]);
  const album = new URLSearchParams(location.search).get("album");
  const suffix = album ? `?album=${album}` : "";
  let facts = null;

  const go = (target) => { if (target) location.href = `/photos/${target}${suffix}`; };
  const back = () => { location.href = album ? `/albums/${album}` : "/"; };

  function media(f) {
    if (f.type === "video") {
      return el("video", { id: "media", controls: true, autoplay: true, playsinline: true, preload: "metadata",
        src: `/api/photos/${f.id}/original` });
    }
    const img = el("img", { id: "media", alt: f.name, src: `/api/photos/${f.id}/display` });
    if (!f.motion) return img;
    const box = el("div", { class: "live-box" }, img);
    let video = null;
    const play = () => {
      if (!video) {
        video = el("video", { class: "motion", playsinline: true, muted: true, src: `/api/photos/${f.id}/original?part=1` });
        video.addEventListener("ended", () => { video.hidden = true; });
        box.append(video);
      }
      video.hidden = false; video.currentTime = 0; video.play().catch(() => {});
    };
    box.append(el("button", { class: "live-btn", "data-action": "play-motion", text: "▶ LIVE", onclick: play }));
    return box;
  }

  function row(label, value) {
    return value === null || value === undefined || value === "" ? [] : [el("dt", { text: label }), el("dd", {}, value)];
  }

  function render(f) {
    const dims = f.width && f.height ? `${f.width} × ${f.height}` : null;
    const where = f.location ? `${f.location.lat.toFixed(5)}, ${f.location.lon.toFixed(5)}` : "none recorded";
    const stage = el("div", { class: "stage" }, media(f),
      f.previous && el("button", { class: "nav-btn prev", title: "Previous (←)", text: "‹", onclick: () => go(f.previous) }),
      f.next && el("button", { class: "nav-btn next", title: "Next (→)", text: "›", onclick: () => go(f.next) }));
    const info = el("aside", { class: "facts" },
      el("h2", { text: f.name }),
      el("p", { class: "muted", text: `${f.position.index} of ${f.position.of}` }),
      el("dl", {},
        row("Taken", when(f.taken_at)),
        row("Camera", f.camera),
        row("Size", bytes(f.size)),
        row("Dimensions", dims),
        row("Format", f.format ? f.format.toUpperCase() : null),
        row("Duration", f.duration ? `${f.duration.toFixed(1)} s` : null),
        row("Location", where),
        row("Albums", f.albums.join(", ") || "none"),
        row("Kind", f.type === "live" ? "Live Photo" : f.type)),
      el("p", {}, el("a", { href: `/api/photos/${f.id}/original`, download: f.name, text: "Download original" })),
      el("p", { class: "muted", text: "← → previous / next · Esc back to the photos" }));
    main().replaceChildren(el("div", { class: "viewer" }, stage, info));
    const m = document.getElementById("media");
    if (m && m.tagName === "IMG") {
      m.addEventListener("error", () => m.replaceWith(el("p", { class: "error", text: "This photo cannot be shown in the browser." })));
    }
  }

  document.addEventListener("keydown", (event) => {
    if (!facts || ark.typing(event)) return;
    if (event.key === "ArrowLeft") go(facts.previous);
    else if (event.key === "ArrowRight") go(facts.next);
    else if (event.key === "Escape") back();
  });

  api(`/api/photos/${id}${suffix}`).then((f) => { facts = f; document.title = `${f.name} · photoark`; render(f); })
    .catch((err) => message(err.message, "empty error"));
})();
