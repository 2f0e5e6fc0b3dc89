// Citeline: the collection picker. Which collections the key may read (GET
// /v1/collections) and which of them the questions and the Articles view cover.
//
// Shown only when the deployment has named collections: a lone `default` is the
// single-index layout, with nothing to pick. "All collections" (the default) sends no
// `collections` at all, so the server covers every collection the key may read, those
// created later included. The picked names last for the session (sessionStorage).
// Collection names are text: they reach the page through textContent only.
(() => {
  "use strict";

  const PICKED = "citeline.collections";
  let names = []; // what the key may read, as last listed
  let picked = null; // null: all of them
  let token = 0;

  const $ = (id) => document.getElementById(id);
  const box = $("collections");
  const options = $("collection-options");

  function readPicked() {
    try {
      const raw = JSON.parse(sessionStorage.getItem(PICKED) || "null");
      return Array.isArray(raw) ? raw.filter((n) => typeof n === "string") : null;
    } catch {
      return null;
    }
  }

  function savePicked() {
    try {
      if (picked) sessionStorage.setItem(PICKED, JSON.stringify(picked));
      else sessionStorage.removeItem(PICKED);
    } catch {
      // Storage disabled: the choice lasts for this page.
    }
  }

  function changed() {
    savePicked();
    window.dispatchEvent(new CustomEvent("citeline:collections"));
  }

  function option(value, label, checked) {
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "collection";
    input.value = value;
    input.checked = checked;
    input.id = `collection-${value === "*" ? "all" : `c-${value}`}`;
    const text = document.createElement("span");
    text.textContent = label;
    const wrap = document.createElement("label");
    wrap.className = "collection-option";
    wrap.htmlFor = input.id;
    wrap.append(input, text);
    return { wrap, input };
  }

  /** Ticks the boxes as `picked` says (the boxes stay: focus stays where it is). */
  function sync() {
    for (const input of options.querySelectorAll("input")) {
      input.checked = input.value === "*" ? picked === null : Boolean(picked?.includes(input.value));
    }
  }

  function render() {
    if (!box || !options) return;
    const shown = names.length > 1 || (names.length === 1 && names[0] !== "default");
    box.hidden = !shown;
    options.replaceChildren();
    if (!shown) return;
    const all = option("*", "All collections", picked === null);
    options.append(all.wrap);
    all.input.addEventListener("change", () => {
      picked = null; // "all" cannot be unticked into nothing: it is the fallback
      sync();
      changed();
    });
    for (const name of names) {
      const one = option(name, name, Boolean(picked?.includes(name)));
      options.append(one.wrap);
      one.input.addEventListener("change", () => {
        const rest = (picked || []).filter((n) => n !== name);
        picked = one.input.checked ? [...rest, name] : rest;
        if (!picked.length) picked = null;
        sync();
        changed();
      });
    }
  }

  /** Lists the collections again (after the key changed); a 401 (no key yet) shows none. */
  async function refresh() {
    const mine = ++token;
    const headers = { Accept: "application/json" };
    const key = window.CitelineKey?.get();
    if (key) headers.Authorization = `Bearer ${key}`;
    let listed = [];
    try {
      const response = await fetch("v1/collections", { headers, credentials: "same-origin" });
      if (response.ok) {
        const body = await response.json();
        listed = (Array.isArray(body?.collections) ? body.collections : [])
          .map((c) => c?.name)
          .filter((n) => typeof n === "string" && n);
      }
    } catch {
      // Server unreachable: no picker; asking a question reports the problem.
    }
    if (mine !== token) return; // a later refresh (another key) wins
    names = listed;
    const kept = (picked || readPicked() || []).filter((n) => names.includes(n));
    picked = kept.length ? kept : null;
    render();
    changed();
  }

  window.CitelineCollections = Object.freeze({
    refresh,
    /** The picked collections, or null for all the key may read. */
    selected: () => (picked ? [...picked] : null),
    /** Every collection the key may read, as last listed. */
    names: () => [...names],
    /** Whether answers may come from more than one collection (then they are named). */
    many: () => names.length > 1,
  });
  window.addEventListener("citeline:key", refresh);
})();
