// photoark web: helpers every page uses (requests, events, elements, formats, dialogs).
"use strict";

const ark = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  class ApiError extends Error {
    constructor(message, hint, status) { super(message); this.hint = hint || ""; this.status = status; }
  }

  async function api(path, options = {}) {
    const init = { credentials: "same-origin", headers: { Accept: "application/json" }, ...options };
    if (init.method && init.method !== "GET") {
      init.headers = { ...init.headers, "X-CSRF-Token": csrf };
      if (init.body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(init.body);
      }
    }
    const response = await fetch(path, init);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const message = (data && data.error) || `${response.status} ${response.statusText}`;
      throw new ApiError(message, data && data.hint, response.status);
    }
    return data;
  }
  const post = (path, body) => api(path, { method: "POST", body });

  // one event stream per page; handlers by event name
  const handlers = {};
  let source = null;
  function on(kind, handler) {
    (handlers[kind] = handlers[kind] || []).push(handler);
    if (!source) connect();
    else source.addEventListener(kind, dispatch);
  }
  function dispatch(event) {
    let data = {};
    try { data = JSON.parse(event.data); } catch (_) { /* a comment line */ }
    for (const h of handlers[event.type] || []) h(data);
  }
  function connect() {
    source = new EventSource("/api/events");
    const dot = document.getElementById("live");
    source.onopen = () => dot && dot.classList.add("on");
    source.onerror = () => dot && dot.classList.remove("on");
    for (const kind of Object.keys(handlers)) source.addEventListener(kind, dispatch);
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function bytes(n) {
    if (n === null || n === undefined) return "?";
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let i = 0; let v = n;
    while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return i === 0 ? `${v} ${units[i]}` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
  }
  function when(text) {
    if (!text) return "unknown";
    const d = new Date(text.length >= 19 ? text.slice(0, 19) : text);
    return isNaN(d) ? text : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
  function ago(seconds) {
    if (!seconds) return "never";
    const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    return `${Math.round(s / 3600)} h ago`;
  }
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  // a photo tile: <a data-photo-id><img thumbnail></a>; kind i/v/l (photo, video, Live
  // Photo), a capital when there is no thumbnail (a placeholder then, no request). With
  // ``defer`` the thumbnail's address waits in data-src until the page asks for it (a timeline
  // scrolled fast asks only for the rows it stops on).
  function tile(id, kind, href, defer = false) {
    const k = String(kind || "i");
    const img = el("img", { alt: "", decoding: "async", draggable: "false" });
    img.addEventListener("load", () => img.classList.add("loaded"));
    img.addEventListener("error", () => img.classList.add("broken"));
    if (k === k.toLowerCase() || k.length > 1) {
      if (defer) img.dataset.src = `/api/photos/${id}/thumbnail`;
      else img.src = `/api/photos/${id}/thumbnail`;
    } else img.classList.add("broken");
    const lower = k.toLowerCase();
    const badge = lower === "v" || lower === "video" ? "VIDEO" : lower === "l" || lower === "live" ? "LIVE" : null;
    return el("a", { class: "tile", href: href || `/photos/${id}`, dataset: { photoId: String(id) } },
      img, badge && el("span", { class: "badge", text: badge }));
  }

  let toastTimer = null;
  function toast(message, { bad = false, action = null, seconds = 6 } = {}) {
    const box = document.getElementById("toast");
    box.replaceChildren(el("span", { text: message }));
    if (action) box.append(el("button", { text: action.label, onclick: () => { box.hidden = true; action.run(); } }));
    box.classList.toggle("bad", bad);
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, seconds * 1000);
  }
  function fail(err) {
    toast(err.hint ? `${err.message} — ${err.hint}` : err.message, { bad: true, seconds: 10 });
  }

  function confirm(title, text, okLabel = "OK") {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-ok").textContent = okLabel;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    });
  }

  const main = () => document.getElementById("main");
  function message(text, cls = "empty") { main().replaceChildren(el("div", { class: cls, text })); }
  const typing = (event) => /^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName) || event.ctrlKey || event.metaKey || event.altKey;

  return { api, post, on, el, bytes, when, ago, plural, tile, toast, fail, confirm, main, message, typing, ApiError };
})();
