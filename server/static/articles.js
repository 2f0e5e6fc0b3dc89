// Citeline "Articles" view: what is indexed, searchable; admins can add a URL or a file.
// Loaded beside app.js as its own file. Same safety rule: article text reaches the page
// only through textContent / createElement, and only http(s) urls become links.
// The key comes from key.js, the collections listed from the picker (collections.js).
(() => {
  "use strict";

  const PAGE = 50;

  function storedKey() {
    return window.CitelineKey.get();
  }

  const picker = () => window.CitelineCollections;

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    node.append(...children);
    return node;
  }

  function safeUrl(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    const key = storedKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok && response.status !== 202) {
      const message = body && typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  const dialog = el("dialog", { id: "articles-dialog", class: "articles-dialog",
                                "aria-labelledby": "articles-title" });
  const search = el("input", { id: "articles-search", type: "search",
                               placeholder: "Search titles, sources, links", "aria-label": "Search articles" });
  const status = el("p", { id: "articles-status", class: "articles-status", role: "status" });
  const list = el("ul", { id: "articles-list", class: "articles-list" });
  const more = el("button", { type: "button", class: "ghost small", id: "articles-more" }, "More");
  const urlInput = el("input", { id: "articles-url", type: "url", placeholder: "https://… page, feed or sitemap",
                                 "aria-label": "URL to add" });
  const fileInput = el("input", { id: "articles-file", type: "file",
                                  accept: ".txt,.md,.html,.htm,.pdf,.docx", "aria-label": "File to add" });
  // Where an addition goes, when the key reads several collections (else the one it reads).
  const target = el("select", { id: "articles-collection" });
  const targetLabel = el("label", { for: "articles-collection", class: "articles-target" },
    "Add to collection ", target);
  const addButton = el("button", { type: "submit", class: "primary", id: "articles-add" }, "Add");
  const addStatus = el("p", { id: "articles-add-status", class: "articles-status", role: "status" });
  const addForm = el("form", { id: "articles-add-form", class: "articles-add" },
    el("p", { class: "articles-kicker", text: "Add (admin key)" }), targetLabel, urlInput, fileInput, addButton,
    addStatus);
  const close = el("button", { type: "button", class: "icon-button", id: "articles-close",
                               "aria-label": "Close articles" }, "✕");
  dialog.append(
    el("div", { class: "articles-head" }, el("h2", { id: "articles-title", text: "Articles" }), close),
    search, status, list, more, addForm,
  );

  let offset = 0;
  let query = "";
  let timer = null;

  function row(doc) {
    const title = doc.title || doc.doc_id;
    const href = safeUrl(doc.url || "");
    const head = href
      ? el("a", { href, target: "_blank", rel: "noopener noreferrer", class: "articles-link" }, title)
      : el("span", { class: "articles-link" }, title);
    const meta = [picker()?.many() && doc.collection ? `Collection ${doc.collection}` : null,
                  doc.source && doc.source !== doc.url ? doc.source : null, doc.date,
                  `${doc.passages} passage${doc.passages === 1 ? "" : "s"}`].filter(Boolean).join(" · ");
    return el("li", { class: "articles-item" }, head, el("span", { class: "articles-meta", text: meta }));
  }

  async function load(reset) {
    if (reset) {
      offset = 0;
      list.replaceChildren();
    }
    status.textContent = "Loading…";
    try {
      const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
      if (query) params.set("q", query);
      for (const name of picker()?.selected() || []) params.append("collection", name);
      const data = await api(`/v1/documents?${params}`);
      for (const doc of data.documents) list.append(row(doc));
      offset += data.documents.length;
      status.textContent = `${data.total} article${data.total === 1 ? "" : "s"}${query ? " match" : " indexed"}`;
      more.hidden = offset >= data.total;
    } catch (err) {
      status.textContent = err.status === 401
        ? "This server needs an API key: ask a question first to enter it."
        : `Could not list the articles: ${err.message}`;
      more.hidden = true;
    }
  }

  async function add(event) {
    event.preventDefault();
    const file = fileInput.files && fileInput.files[0];
    const url = urlInput.value.trim();
    if (!file && !url) {
      addStatus.textContent = "Give a URL or choose a file.";
      return;
    }
    addButton.disabled = true;
    addStatus.textContent = "Adding…";
    try {
      let result;
      if (file) {
        const form = new FormData();
        form.append("file", file);
        result = await api(`/v1/documents${where()}`, { method: "POST", body: form });
      } else {
        result = await api(`/v1/documents${where()}`, {
          method: "POST", body: JSON.stringify({ url }), headers: { "Content-Type": "application/json" },
        });
      }
      addStatus.textContent = result.status === "done"
        ? `Added ${result.added}, updated ${result.updated}, unchanged ${result.unchanged}.`
        : "Accepted: it is being added in the background.";
      fileInput.value = "";
      urlInput.value = "";
      setTimeout(() => load(true), 1500); // the server reloads the index after the write
    } catch (err) {
      addStatus.textContent = err.status === 403
        ? `Not allowed: ${err.message}`
        : `Could not add it: ${err.message}`;
    } finally {
      addButton.disabled = false;
    }
  }

  /** The ?collection= of an addition: the one chosen, the only one readable, or none (default). */
  function where() {
    const names = picker()?.names() || [];
    const name = names.length > 1 ? target.value : names[0];
    return name && name !== "default" ? `?${new URLSearchParams({ collection: name })}` : "";
  }

  function fillTargets() {
    const names = picker()?.names() || [];
    const picked = picker()?.selected() || [];
    target.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
    if (picked.length) target.value = picked[0];
    targetLabel.hidden = names.length < 2;
  }

  function open() {
    fillTargets();
    if (!dialog.open) dialog.showModal();
    load(true);
    search.focus();
  }

  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      query = search.value.trim();
      load(true);
    }, 250);
  });
  more.addEventListener("click", () => load(false));
  close.addEventListener("click", () => dialog.close());
  addForm.addEventListener("submit", add);

  document.addEventListener("DOMContentLoaded", () => {
    document.body.append(dialog);
    const button = el("button", { type: "button", id: "open-articles", class: "ghost" }, "Articles");
    button.addEventListener("click", open);
    const actions = document.querySelector(".topbar-actions");
    if (actions) actions.prepend(button);
  });
})();
