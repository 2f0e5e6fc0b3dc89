// Citeline: where the page keeps the API key, for app.js and articles.js alike.
//
// The key lives in sessionStorage: it lasts while this tab's session does and is asked
// for again in a new one, instead of staying on disk in localStorage for anyone who later
// uses the browser. Pages before this one kept it in localStorage; such a key is moved
// here once and removed there. Conversations stay in localStorage (they hold no key).
(() => {
  "use strict";

  const NAME = "citeline.apiKey";
  let memory = null; // storage disabled (some private modes): the key lasts for this page only

  function storage(kind) {
    try {
      return window[kind] || null;
    } catch {
      return null; // access itself may throw when storage is blocked
    }
  }

  (function moveFromLocalStorage() {
    const local = storage("localStorage");
    const session = storage("sessionStorage");
    try {
      const old = local ? local.getItem(NAME) : null;
      if (old === null) return;
      if (session) {
        if (!session.getItem(NAME)) session.setItem(NAME, old);
      } else {
        memory = old;
      }
      local.removeItem(NAME);
    } catch {
      // Storage refused: nothing was moved, nothing else depends on it.
    }
  })();

  function get() {
    try {
      const session = storage("sessionStorage");
      const key = session ? session.getItem(NAME) : null;
      return key || memory;
    } catch {
      return memory;
    }
  }

  /** Keep `key` (or forget it, given nothing); tells the page with a "citeline:key" event. */
  function set(key) {
    const value = typeof key === "string" && key ? key : null;
    memory = value;
    try {
      const session = storage("sessionStorage");
      if (session && value) session.setItem(NAME, value);
      else if (session) session.removeItem(NAME);
    } catch {
      // Full or disabled: the key is kept in memory for this page.
    }
    try {
      storage("localStorage")?.removeItem(NAME);
    } catch {
      // nothing to remove
    }
    window.dispatchEvent(new CustomEvent("citeline:key"));
  }

  window.CitelineKey = Object.freeze({ get, set });
})();
