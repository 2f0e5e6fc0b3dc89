// Citeline chat page. Plain JS, no build step, no third-party code.
//
// Safety rule for this file: text that comes from articles or from the model is only
// ever put into the page with textContent / createElement / append(string). Nothing
// here assigns innerHTML, and only http(s) urls become links.
(() => {
  "use strict";

  const CHATS_STORAGE = "citeline.chats.v1";
  const MAX_STORED_CHATS = 40;
  const QUOTE_PREVIEW_CHARS = 180;
  // The server's question limit (GET /readyz says; 2,000 is the documented default).
  let questionLimit = 2000;

  const $ = (id) => document.getElementById(id);
  const ui = {
    log: $("log"),
    empty: $("empty"),
    indexStatus: $("index-status"),
    form: $("composer"),
    question: $("question"),
    send: $("send"),
    stop: $("stop"),
    message: $("composer-message"),
    hint: $("composer-hint"),
    count: $("composer-count"),
    newChat: $("new-chat"),
    chats: $("chats"),
    chatList: $("chat-list"),
    chatsEmpty: $("chats-empty"),
    showChats: $("show-chats"),
    chatsClose: $("chats-close"),
    forgetKey: $("forget-key"),
    chat: $("chat"),
    panel: $("source-panel"),
    panelKicker: $("source-kicker"),
    panelFor: $("source-for"),
    panelTitle: $("source-title"),
    panelMeta: $("source-meta"),
    panelLink: $("source-link"),
    panelBody: $("source-body"),
    panelNote: $("source-note"),
    panelMore: $("source-more"),
    panelClose: $("source-close"),
    keyDialog: $("key-dialog"),
    keyForm: $("key-form"),
    keyInput: $("key-input"),
    keyReason: $("key-reason"),
    keyCancel: $("key-cancel"),
  };

  // ------------------------------------------------------------------ DOM helpers

  /** createElement with class/text/attributes; children are nodes or plain strings (text). */
  function el(tag, options = {}, ...children) {
    const node = document.createElement(tag);
    if (options.className) node.className = options.className;
    if (options.text !== undefined) node.textContent = options.text;
    for (const [name, value] of Object.entries(options.attrs || {})) {
      node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  /** The url as a string when it is an absolute http(s) url, else null. */
  function safeUrl(raw) {
    if (typeof raw !== "string" || !raw.trim()) return null;
    try {
      const url = new URL(raw.trim());
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function externalLink(href, label) {
    const a = el("a", { text: label });
    a.href = href; // only ever called with the output of safeUrl
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  /** "an API key is required" -> "An API key is required." */
  function sentence(text) {
    const t = String(text).trim();
    const capital = t.charAt(0).toUpperCase() + t.slice(1);
    return /[.!?]$/.test(capital) ? capital : `${capital}.`;
  }

  function truncate(text, max) {
    if (text.length <= max) return text;
    const cut = text.slice(0, max);
    const space = cut.lastIndexOf(" ");
    return `${cut.slice(0, space > max * 0.6 ? space : max)}…`;
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  // The key is kept by key.js (sessionStorage), shared with the Articles view; setting
  // it lists the collections it may read again (collections.js).
  const auth = {
    get key() {
      return window.CitelineKey.get();
    },
    set(key) {
      window.CitelineKey.set(key);
      ui.forgetKey.hidden = !key;
    },
  };

  /** The picked collections for a request body: {} for all the key may read. */
  function collectionsBody() {
    const picked = window.CitelineCollections?.selected();
    return picked ? { collections: picked } : {};
  }

  /** Whether answers may come from several collections: then citations name theirs. */
  function namesCollections() {
    return Boolean(window.CitelineCollections?.many());
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string" && body.error) return body.error;
    } catch {
      // not JSON: fall through to the status line
    }
    if (response.status >= 500) {
      return `The server had a problem (HTTP ${response.status}). Try again in a moment.`;
    }
    return `The server answered HTTP ${response.status}.`;
  }

  /**
   * fetch for the API: sends the stored key, asks for one on 401 and retries, and turns
   * every failure into an ApiError whose message can be shown to a person as it is.
   */
  async function request(path, { method = "GET", body, signal, accept } = {}) {
    for (;;) {
      const headers = { Accept: accept || "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (auth.key) headers.Authorization = `Bearer ${auth.key}`;
      let response;
      try {
        response = await fetch(path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
          credentials: "same-origin",
        });
      } catch (err) {
        if (err.name === "AbortError") throw err;
        throw new ApiError("The server could not be reached. Check that Citeline is running.", 0);
      }
      if (response.status !== 401) {
        if (!response.ok) throw new ApiError(await errorMessage(response), response.status);
        return response;
      }
      const serverSays = await errorMessage(response);
      const reason = auth.key ? `That key was not accepted: ${serverSays}` : sentence(serverSays);
      const key = await askForKey(reason);
      if (!key) throw new ApiError("This server needs an API key. Ask again to enter one.", 401);
      auth.set(key);
    }
  }

  let keyPrompt = null;

  /** Shows the key dialog; resolves to the key entered, or null when cancelled. */
  function askForKey(reason) {
    // Several requests may hit 401 at once: they share one prompt.
    if (keyPrompt) return keyPrompt;
    keyPrompt = new Promise((resolve) => {
      ui.keyReason.textContent = `${sentence(reason)} The key is kept in this browser until the session ends.`;
      ui.keyInput.value = "";
      const finish = (value) => {
        ui.keyForm.removeEventListener("submit", onSubmit);
        ui.keyCancel.removeEventListener("click", onCancel);
        ui.keyDialog.removeEventListener("cancel", onCancel);
        if (ui.keyDialog.open) ui.keyDialog.close();
        keyPrompt = null;
        resolve(value);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        const value = ui.keyInput.value.trim();
        if (value) finish(value);
      };
      const onCancel = (event) => {
        event.preventDefault();
        finish(null);
      };
      ui.keyForm.addEventListener("submit", onSubmit);
      ui.keyCancel.addEventListener("click", onCancel);
      ui.keyDialog.addEventListener("cancel", onCancel);
      ui.keyDialog.showModal();
      ui.keyInput.focus();
    });
    return keyPrompt;
  }

  /**
   * What this server offers beyond plain /v1/ask, read from its OpenAPI schema so the
   * page needs no change when streaming (`stream` on AskRequest) or /v1/chat lands.
   * Read on the first question, through request(): with API keys on, the schema needs
   * the key too, and asking for it then is asking for what the question needs anyway.
   * Remembered only once read, so a failure (no key yet, server down) is retried.
   */
  let knownFeatures = null;
  async function features() {
    if (knownFeatures) return knownFeatures;
    try {
      const spec = await (await request("openapi.json")).json();
      const props = (name) => spec?.components?.schemas?.[name]?.properties || {};
      const bodyProps = (path) => {
        const schema = spec?.paths?.[path]?.post?.requestBody?.content?.["application/json"]?.schema;
        const ref = typeof schema?.$ref === "string" ? schema.$ref.split("/").pop() : null;
        return ref ? props(ref) : schema?.properties || {};
      };
      const chat = bodyProps("/v1/chat");
      knownFeatures = {
        askStream: "stream" in bodyProps("/v1/ask"),
        chat: "messages" in chat,
        chatStream: "messages" in chat && "stream" in chat,
      };
      return knownFeatures;
    } catch (err) {
      // No key given (prompt cancelled): the question cannot be asked either.
      if (err instanceof ApiError && err.status === 401) throw err;
      return { askStream: false, chat: false, chatStream: false };
    }
  }

  /** The answer object every renderer below relies on, whatever the server sent. */
  function normaliseAnswer(data) {
    const citations = Array.isArray(data?.citations) ? data.citations : [];
    const sentences = Array.isArray(data?.sentences) ? data.sentences : [];
    const text = (v) => (typeof v === "string" && v.trim() ? v.trim() : null);
    return {
      answer: typeof data?.answer === "string" ? data.answer : "",
      citations: citations.filter((c) => c && Number.isInteger(c.n)),
      abstained: Boolean(data?.abstained),
      // Generated answers say, sentence by sentence, whether the sources back them.
      unsupported: sentences
        .filter((x) => x && x.supported === false && typeof x.text === "string")
        .map((x) => x.text),
      condensedQuestion: text(data?.condensed_question),
      answerer: data?.answerer === "llm" ? "llm" : "extractive",
      // The model that wrote an LLM answer (servers before this field say nothing).
      model: text(data?.model),
      // Set when an LLM is configured but could not be used for this answer.
      fallbackReason: text(data?.fallback_reason),
      warning: null, // set by streamAnswer when the stream failed after all
    };
  }

  /** The answer as kept in browser storage: only what the renderers read back. */
  function storableAnswer(result) {
    return {
      answer: result.answer,
      citations: result.citations.map((c) => ({
        n: c.n,
        doc_id: c.doc_id,
        title: c.title ?? null,
        source: c.source ?? null,
        url: c.url ?? null,
        collection: typeof c.collection === "string" ? c.collection : null,
        quote: c.quote,
        start: c.start,
        end: c.end,
        supported: c.supported !== false,
      })),
      abstained: result.abstained,
      unsupported: result.unsupported,
      condensedQuestion: result.condensedQuestion,
      answerer: result.answerer,
      model: result.model,
      fallbackReason: result.fallbackReason,
      warning: result.warning,
    };
  }

  // /v1/chat rejects more than 100 messages; the last few turns carry the context anyway.
  const MAX_HISTORY_MESSAGES = 20;

  /**
   * Get an answer. With /v1/chat the earlier turns go along (the server makes the
   * follow-up standalone); with plain /v1/ask each question is asked on its own.
   * on.question(condensed) and on.text(partialAnswer) report a streamed answer's progress.
   */
  async function getAnswer(question, history, on, signal) {
    const f = await features();
    const useChat = f.chat && history.length > 0;
    const path = useChat ? "v1/chat" : "v1/ask";
    let earlier = history.slice(-MAX_HISTORY_MESSAGES);
    if (earlier[0]?.role === "assistant") earlier = earlier.slice(1);
    const body = useChat
      ? { messages: [...earlier, { role: "user", content: question }], ...collectionsBody() }
      : { question, ...collectionsBody() };
    if (useChat ? f.chatStream : f.askStream) {
      return streamAnswer(path, { ...body, stream: true }, on, signal);
    }
    const response = await request(path, { method: "POST", body, signal });
    return normaliseAnswer(await response.json());
  }

  /** One server-sent event: its name and its data lines joined (null when it has none). */
  function parseEvent(raw) {
    let event = "message";
    const data = [];
    for (const line of raw.split(/\r\n|\r|\n/)) {
      if (line.startsWith(":")) continue; // a comment: the server's keep-alive ping
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (name === "event") event = value;
      else if (name === "data") data.push(value);
    }
    return { event, data: data.length ? data.join("\n") : null };
  }

  /**
   * Reads a streamed answer (see server/routes/answers.py): `question` (chat only),
   * `token`s, then `citations` with the whole answer, which replaces the streamed text
   * (it may differ: markers that point at no source are removed), then `done`.
   * An `error` with no answer after it fails the turn; one followed by an answer
   * (an LLM cut off part-way) is shown as a warning beside that answer.
   */
  async function streamAnswer(path, body, on, signal) {
    const response = await request(path, { method: "POST", body, signal, accept: "text/event-stream" });
    if (!(response.headers.get("content-type") || "").includes("text/event-stream")) {
      return normaliseAnswer(await response.json()); // the server chose not to stream
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let text = "";
    let final = null;
    let failure = null;
    let finished = false;
    const handle = (raw) => {
      const { event, data } = parseEvent(raw);
      if (data === null) return;
      let payload;
      try {
        payload = JSON.parse(data);
      } catch {
        return; // not one of this API's events
      }
      if (event === "question" && typeof payload?.condensed_question === "string") {
        on.question(payload.condensed_question);
      } else if (event === "token" && typeof payload?.text === "string") {
        text += payload.text;
        on.text(text);
      } else if (event === "citations") {
        final = normaliseAnswer(payload);
      } else if (event === "error") {
        failure = typeof payload?.error === "string" && payload.error ? payload.error : "the answer failed";
      } else if (event === "done") {
        finished = true;
      }
    };
    try {
      while (!finished) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let match;
        while (!finished && (match = /\r\n\r\n|\n\n|\r\r/.exec(buffer))) {
          handle(buffer.slice(0, match.index));
          buffer = buffer.slice(match.index + match[0].length);
        }
      }
      if (!finished && buffer.trim()) handle(buffer);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError("The connection to the server was lost while answering. Try again.", 0);
    }
    if (finished) {
      // Nothing more is due after `done`: answer now, and read the rest (the end of the
      // response) in the background so the connection ends normally rather than aborted.
      (async () => {
        try {
          while (!(await reader.read()).done);
        } catch {
          // The answer is already shown; a late network error changes nothing.
        }
      })();
    }
    if (final) {
      if (failure) final.warning = sentence(failure);
      return final;
    }
    if (failure) throw new ApiError(sentence(failure), 0);
    throw new ApiError("The answer stopped before it was complete. Try again.", 0);
  }

  const documents = new Map();

  /** An article by id, from the collection its citation names (the same id may be in several). */
  function fetchDocument(docId, collection) {
    const cacheKey = `${collection || ""}\n${docId}`;
    if (!documents.has(cacheKey)) {
      // Each segment is encoded: ids are file paths and may hold "?", "#" or spaces.
      let path = `v1/documents/${docId.split("/").map(encodeURIComponent).join("/")}`;
      if (collection) path += `?${new URLSearchParams({ collection })}`;
      const pending = request(path).then((r) => r.json());
      pending.catch(() => documents.delete(cacheKey)); // a failure is not cached
      documents.set(cacheKey, pending);
    }
    return documents.get(cacheKey);
  }

  // ------------------------------------------------------------------ answer rendering

  /** "Chatham House · 21 August 2024": who published the article and when, never a path. */
  function publisherOf(doc, citation) {
    const meta = doc?.metadata || {};
    const named = [meta.publication, meta.site_name, meta.sitename, meta.publisher].find(
      (v) => typeof v === "string" && v.trim(),
    );
    if (named) return named.trim();
    const url = safeUrl(doc?.url) || safeUrl(citation?.url);
    if (url) return new URL(url).hostname.replace(/^www\./, "");
    return doc?.title || citation?.title || null;
  }

  function displayDate(raw) {
    if (typeof raw !== "string" || !raw.trim()) return null;
    const iso = /^\d{4}-\d{2}-\d{2}/.test(raw.trim());
    const parsed = iso ? new Date(raw.trim().slice(0, 10) + "T12:00:00Z") : null;
    if (parsed && !Number.isNaN(parsed.getTime())) {
      return parsed.toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" });
    }
    return raw.trim();
  }

  function chip(citation, onOpen, answerNo) {
    const title = citation.title || citation.doc_id || "source";
    const button = el("button", {
      className: "chip",
      text: String(citation.n),
      attrs: {
        type: "button",
        "aria-label": `Answer ${answerNo}, source ${citation.n}: ${title}`,
        "data-n": String(citation.n),
      },
    });
    button.title = title;
    if (citation.supported === false) {
      // The server found that no sentence citing this source is backed by its quote.
      button.classList.add("chip-weak");
      button.title = `${title} (this quote does not clearly back the sentence)`;
      button.setAttribute("aria-label", `Answer ${answerNo}, source ${citation.n}, weak support: ${title}`);
    }
    button.addEventListener("click", () => onOpen(citation, button));
    return button;
  }

  /** [start, end) ranges of the answer taken by the unsupported sentences, in order. */
  function unsupportedRanges(answer, sentences) {
    const ranges = [];
    let from = 0;
    for (const sentence of sentences) {
      if (!sentence) continue;
      // Sentences come in answer order; searching on from the last one keeps repeats apart.
      let at = answer.indexOf(sentence, from);
      if (at < 0) at = answer.indexOf(sentence);
      if (at < 0) continue;
      ranges.push([at, at + sentence.length]);
      from = at + sentence.length;
    }
    return ranges.sort((a, b) => a[0] - b[0]);
  }

  const MARKER = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

  /** Append `text` to `parent`, turning [n] / [n, m] markers of known sources into chips. */
  function appendWithMarkers(parent, text, makeChip, known) {
    let last = 0;
    for (const match of text.matchAll(MARKER)) {
      const numbers = match[1].split(",").map((s) => Number(s.trim()));
      if (!numbers.every(known)) continue; // leave unknown markers as text
      if (match.index > last) parent.append(text.slice(last, match.index));
      for (const n of numbers) parent.append(makeChip(n));
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  /**
   * The text sink for an answer: plain text with markers turned into chips, and the
   * parts inside unsupported sentences wrapped and labelled (the label once, at the
   * sentence's end, even when emphasis splits the sentence into several pieces).
   */
  function answerSink(ranges, makeChip, known) {
    return (parent, text, offset) => {
      let at = 0;
      const end = text.length;
      for (const [rs, re] of ranges) {
        const s = Math.max(rs - offset, at);
        const e = Math.min(re - offset, end);
        if (e <= s) continue;
        if (s > at) appendWithMarkers(parent, text.slice(at, s), makeChip, known);
        const span = el("span", { className: "unsupported", attrs: { "data-unsupported": "" } });
        span.title = "No quote backs this sentence";
        appendWithMarkers(span, text.slice(s, e), makeChip, known);
        if (re - offset <= end) {
          span.classList.add("unsupported-end");
          span.append(el("span", { className: "visually-hidden", text: " (not supported by the sources)" }));
        }
        parent.append(span);
        at = e;
      }
      if (at < end) appendWithMarkers(parent, text.slice(at), makeChip, known);
    };
  }

  /** A partial answer while it streams: markers become inert numbers until citations arrive. */
  function renderStreamingText(container, text, caret = true) {
    container.replaceChildren();
    const pending = (n) => el("span", { className: "chip chip-pending", text: String(n) });
    appendWithMarkers(container, text, pending, () => true);
    if (caret) container.append(el("span", { className: "stream-caret", attrs: { "aria-hidden": "true" } }));
  }

  function renderAnswerText(container, result, onOpen, answerNo) {
    container.replaceChildren();
    const byNumber = new Map(result.citations.map((c) => [c.n, c]));
    const makeChip = (n) => chip(byNumber.get(n), onOpen, answerNo);
    const known = (n) => byNumber.has(n);
    const sink = answerSink(unsupportedRanges(result.answer, result.unsupported), makeChip, known);
    if (result.answerer === "llm" && window.CitelineMarkdown) {
      // Written by a model: its Markdown is rendered, as DOM nodes, never as HTML.
      container.classList.add("markdown");
      container.append(window.CitelineMarkdown.render(result.answer, sink));
    } else {
      // Quotes stay exactly as the article has them.
      container.classList.remove("markdown");
      sink(container, result.answer, 0);
    }
  }

  /** One row per article (an answer often cites one article several times). */
  function renderSources(result, onOpen, answerNo) {
    if (!result.citations.length) return null;
    const groups = new Map();
    for (const c of result.citations) {
      const key = c.doc_id ? `${c.collection || ""}\n${c.doc_id}` : `#${c.n}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    }
    const list = el("ol", { className: "sources-list" });
    for (const citations of groups.values()) {
      const first = citations[0];
      const title = first.title || first.doc_id || "Untitled article";
      const open = el("button", { className: "source-item-title", text: title, attrs: { type: "button" } });
      open.addEventListener("click", () => onOpen(first, open));
      const host = safeUrl(first.url) ? new URL(first.url).hostname.replace(/^www\./, "") : null;
      const where = el("span", { className: "source-host", text: host || "" });
      const collection = namesCollections() && first.collection
        ? el("span", { className: "source-collection" },
          el("span", { className: "visually-hidden", text: "Collection " }), first.collection)
        : null;
      const row = el(
        "li",
        { className: "source-row" },
        el("span", { className: "source-chips" }, ...citations.map((c) => chip(c, onOpen, answerNo))),
        el("span", { className: "source-item-text" }, open, where, collection),
      );
      // Publisher and date come with the article's metadata (fetched once per article).
      if (first.doc_id) {
        fetchDocument(first.doc_id, first.collection)
          .then((doc) => {
            const parts = [publisherOf(doc, first), displayDate(doc.date)].filter(Boolean);
            if (parts[0] === title) parts.shift(); // the title is already there
            where.textContent = parts.join(" · ");
          })
          .catch(() => {}); // the host (or nothing) stays
      }
      // An extractive answer already is the quote; repeating it would only add noise.
      for (const c of citations) {
        const quote = typeof c.quote === "string" ? c.quote : "";
        if (quote && !result.answer.includes(quote)) {
          row.append(el("p", { className: "source-item-quote", text: `${c.n}. “${truncate(quote, QUOTE_PREVIEW_CHARS)}”` }));
        }
      }
      list.append(row);
    }
    return el(
      "section",
      { className: "sources", attrs: { "aria-label": "Sources" } },
      el("h3", { className: "sources-heading", text: "Sources" }),
      list,
    );
  }

  function plainTextWithSources(result) {
    const lines = [result.answer.trim()];
    if (result.citations.length) {
      lines.push("", "Sources:");
      for (const c of result.citations) {
        const where = safeUrl(c.url) || "";
        lines.push(`[${c.n}] ${c.title || c.doc_id}${where ? ` (${where})` : ""}`);
        if (c.quote) lines.push(`    “${c.quote}”`);
      }
    }
    return lines.join("\n");
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Clipboard API refused (no permission or not a secure context): the old way.
      const area = el("textarea", { className: "offscreen" });
      area.value = text;
      document.body.append(area);
      area.select();
      const ok = document.execCommand("copy");
      area.remove();
      return ok;
    }
  }

  function copyButton(result) {
    const button = el("button", { className: "ghost small copy", text: "Copy answer", attrs: { type: "button" } });
    button.addEventListener("click", async () => {
      const ok = await copyText(plainTextWithSources(result));
      button.textContent = ok ? "Copied" : "Copy failed";
      setTimeout(() => (button.textContent = "Copy answer"), 1800);
    });
    return button;
  }

  // ------------------------------------------------------------------ stored chats

  /**
   * Chats live in localStorage: {current, chats: [{id, title, updated, turns}]}, newest
   * first. A turn: {id, question, standalone?, condensed?, state, result?, partial?,
   * error?, vote?}. state: pending | answered | abstained | error | stopped.
   */
  const store = {
    data: { current: null, chats: [] },
    load() {
      try {
        const raw = JSON.parse(localStorage.getItem(CHATS_STORAGE) || "null");
        if (raw && Array.isArray(raw.chats)) {
          this.data = {
            current: typeof raw.current === "string" ? raw.current : null,
            chats: raw.chats.filter((c) => c && typeof c.id === "string" && Array.isArray(c.turns)),
          };
        }
      } catch {
        // Unreadable (or storage disabled): start afresh; nothing else depends on it.
      }
      // A page closed mid-answer left a pending turn behind: it will never finish.
      for (const chat of this.data.chats) {
        for (const turn of chat.turns) {
          if (turn.state === "pending") {
            turn.state = "stopped";
            turn.interrupted = true;
          }
        }
      }
    },
    save() {
      this.data.chats = this.data.chats.slice(0, MAX_STORED_CHATS);
      for (;;) {
        try {
          localStorage.setItem(CHATS_STORAGE, JSON.stringify(this.data));
          return;
        } catch {
          // Full (or disabled): drop the oldest chat and try again, never the open one.
          const oldest = this.data.chats.length - 1;
          if (oldest < 1) return;
          this.data.chats.splice(oldest, 1);
        }
      }
    },
    current() {
      return this.data.chats.find((c) => c.id === this.data.current) || null;
    },
  };

  const newId = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

  function chatTitle(chat) {
    const first = chat.turns[0];
    return first ? truncate(first.question.replace(/\s+/g, " "), 60) : "New chat";
  }

  function touch(chat) {
    chat.updated = Date.now();
    // Newest first: the chat being used moves to the top of the list.
    store.data.chats = [chat, ...store.data.chats.filter((c) => c !== chat)];
  }

  // ------------------------------------------------------------------ conversation

  const state = {
    busy: false,
    controller: null,

    generation: 0, // bumps when the chat shown changes, so late answers are dropped
  };

  function setBusy(busy) {
    state.busy = busy;
    ui.send.disabled = busy;
    ui.send.hidden = busy;
    ui.stop.hidden = !busy;
    ui.send.textContent = "Ask";
    if (!busy) {
      say("");
      updateCount(); // a too-long draft typed meanwhile is reported now
    }
  }

  function scrollToBottom() {
    ui.chat.scrollTop = ui.chat.scrollHeight;
  }

  /** Show a finished turn: all of it when it fits, else from its question down. */
  function revealTurn(node) {
    if (!node?.isConnected) return;
    if (node.offsetHeight > ui.chat.clientHeight) node.scrollIntoView({ block: "start" });
    else scrollToBottom();
  }

  function normalQuestion(text) {
    return text.toLowerCase().replace(/[\s?.!]+/g, " ").trim();
  }

  /** The messages /v1/chat gets for the turns before `index` (answered ones only). */
  function historyBefore(chat, index) {
    const history = [];
    for (const turn of chat.turns.slice(0, index)) {
      if ((turn.state === "answered" || turn.state === "abstained") && turn.result?.answer) {
        history.push(
          { role: "user", content: turn.standalone || turn.question },
          { role: "assistant", content: turn.result.answer },
        );
      }
    }
    return history;
  }

  function turnNode(turn) {
    return ui.log.querySelector(`li.turn[data-turn="${CSS.escape(turn.id)}"]`);
  }

  function dots() {
    return el("span", { className: "thinking-dots", attrs: { "aria-hidden": "true" } }, el("i"), el("i"), el("i"));
  }

  function answerLabel(result) {
    if (result.abstained) return "Not found in your articles";
    if (result.answerer === "llm") {
      return `Written by ${result.model || "the language model"}, checked against the quotes`;
    }
    return "Quoted from your articles";
  }

  /** A small inline editor (question or "Understood as" correction). */
  function inlineEditor({ value, label, submitText, note, onSubmit, onCancel }) {
    const area = el("textarea", { className: "inline-edit-input", attrs: { rows: "2", "aria-label": label } });
    area.value = value;
    const message = el("p", { className: "inline-edit-message", attrs: { role: "status" } });
    const send = el("button", { className: "primary small", text: submitText, attrs: { type: "submit" } });
    const cancel = el("button", { className: "ghost small", text: "Cancel", attrs: { type: "button" } });
    const form = el(
      "form",
      { className: "inline-edit" },
      area,
      note ? el("p", { className: "inline-edit-note", text: note }) : null,
      message,
      el("div", { className: "inline-edit-actions" }, cancel, send),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = area.value.trim();
      const problem = questionProblem(text);
      if (problem) {
        message.textContent = problem;
        return;
      }
      onSubmit(text);
    });
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        onCancel();
      }
    });
    cancel.addEventListener("click", onCancel);
    setTimeout(() => {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    });
    return form;
  }

  function laterTurnsNote(chat, index) {
    const later = chat.turns.length - index - 1;
    if (later <= 0) return null;
    return `The ${later === 1 ? "question" : `${later} questions`} after this one will be removed.`;
  }

  /** The question side of a turn: the bubble, Edit, and how the server read it. */
  function renderQuestion(chat, turn, index) {
    const box = el("div", { className: "question" });
    const edit = el("button", {
      className: "link-button edit-question",
      text: "Edit",
      attrs: { type: "button", "aria-label": "Edit this question and ask again" },
    });
    edit.addEventListener("click", () => {
      if (refuseWhileBusy()) return;
      const editor = inlineEditor({
        value: turn.question,
        label: "Edit your question",
        submitText: "Send",
        note: laterTurnsNote(chat, index),
        onSubmit: (text) => {
          chat.turns.splice(index + 1);
          turn.question = text;
          delete turn.standalone;
          delete turn.condensed;
          if (index === 0) chat.title = chatTitle(chat);
          runTurn(chat, turn);
        },
        onCancel: () => renderChat(),
      });
      box.replaceChildren(editor);
    });
    box.append(el("div", { className: "question-row" }, edit, el("p", { className: "bubble", text: turn.question })));

    // A follow-up is answered as the standalone question the server made of it: say
    // which when it differs from what was typed, and let the reader correct it.
    const shown = turn.standalone || turn.condensed;
    const understood = el("div", { className: "understood" });
    if (shown && (turn.standalone || normalQuestion(shown) !== normalQuestion(turn.question))) {
      const line = el(
        "button",
        {
          className: "understood-as",
          attrs: { type: "button", title: "Click to correct how your question was understood" },
        },
        el("span", { className: "understood-as-label", text: turn.standalone ? "Asked as: " : "Understood as: " }),
        el("q", { text: shown }),
        el("span", { className: "understood-edit", attrs: { "aria-hidden": "true" }, text: " ✎" }),
      );
      line.setAttribute("aria-label", `Understood as: ${shown}. Correct it and ask again`);
      line.addEventListener("click", () => {
        if (refuseWhileBusy()) return;
        understood.replaceChildren(
          inlineEditor({
            value: shown,
            label: "The question to answer, on its own",
            submitText: "Ask this",
            note: laterTurnsNote(chat, index),
            onSubmit: (text) => {
              chat.turns.splice(index + 1);
              // Asked as it is, standalone: the corrected text replaces the server's reading.
              turn.standalone = text;
              delete turn.condensed;
              runTurn(chat, turn);
            },
            onCancel: () => renderChat(),
          }),
        );
      });
      understood.append(line);
    } else {
      understood.hidden = true;
    }
    box.append(understood);
    return box;
  }

  // Thumb outlines (drawn here: the machine may have no emoji font).
  const THUMB_UP =
    "M7 10v11H4a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1h3zm0 0 4-8a3 3 0 0 1 3 3v4h5.5a2 2 0 0 1 2 2.3l-1.3 8A2 2 0 0 1 18.2 21H7";

  function thumbIcon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMB_UP);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "1.8");
    path.setAttribute("stroke-linejoin", "round");
    svg.append(path);
    return svg;
  }

  function feedbackControls(chat, turn) {
    const wrap = el("div", { className: "feedback", attrs: { role: "group", "aria-label": "Was this answer useful?" } });
    const up = el(
      "button",
      { className: "vote", attrs: { type: "button", "aria-label": "Good answer", "data-vote": "up", title: "Good answer" } },
      thumbIcon(),
    );
    const down = el(
      "button",
      { className: "vote", attrs: { type: "button", "aria-label": "Bad answer", "data-vote": "down", title: "Bad answer" } },
      thumbIcon(),
    );
    const status = el("span", { className: "feedback-status", attrs: { role: "status" } });
    const pressed = () => {
      up.setAttribute("aria-pressed", String(turn.vote === "up"));
      down.setAttribute("aria-pressed", String(turn.vote === "down"));
    };
    pressed();
    if (turn.vote) status.textContent = "Thanks for the feedback.";
    const send = async (vote, comment) => {
      status.textContent = "Sending…";
      const result = turn.result;
      const body = {
        // The question the answer answers: what a QA set made from feedback needs.
        question: turn.standalone || result.condensedQuestion || turn.question,
        answer: result.answer,
        citations: result.citations.map((c) => ({ n: c.n, doc_id: c.doc_id, quote: c.quote, start: c.start, end: c.end })),
        vote,
      };
      if (comment) body.comment = comment;
      try {
        await request("v1/feedback", { method: "POST", body });
        turn.vote = vote;
        store.save();
        pressed();
        status.textContent = "Thanks for the feedback.";
        return true;
      } catch (error) {
        status.textContent = `Feedback was not sent: ${error.message}`;
        return false;
      }
    };
    up.addEventListener("click", () => {
      if (turn.vote !== "up") send("up");
    });
    down.addEventListener("click", () => {
      if (turn.vote === "down" || wrap.querySelector("form")) return;
      // A thumbs-down is worth a word on what was wrong; the comment is optional.
      const area = el("textarea", {
        className: "feedback-comment",
        attrs: { rows: "2", maxlength: "2000", "aria-label": "What was wrong? (optional)", placeholder: "What was wrong? (optional)" },
      });
      const form = el(
        "form",
        { className: "feedback-form" },
        area,
        el(
          "div",
          { className: "inline-edit-actions" },
          el("button", { className: "ghost small", text: "Cancel", attrs: { type: "button", "data-cancel": "" } }),
          el("button", { className: "primary small", text: "Send feedback", attrs: { type: "submit" } }),
        ),
      );
      form.querySelector("[data-cancel]").addEventListener("click", () => form.remove());
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (await send("down", area.value.trim())) form.remove();
      });
      wrap.after(form);
      area.focus();
    });
    wrap.append(up, down, status);
    return wrap;
  }

  /** The answer side of a turn, for whatever state it is in. */
  function renderAnswer(chat, turn, index, card) {
    const answerNo = index + 1;
    const label = el("p", { className: "answer-label" });
    const body = el("div", { className: "answer-text" });
    card.replaceChildren(label, body);
    card.dataset.state = turn.state;
    card.setAttribute("aria-busy", String(turn.state === "pending"));
    card.removeAttribute("role");
    const isLast = index === chat.turns.length - 1;
    const actions = el("div", { className: "answer-actions" });
    const regenerate = (text) => {
      const button = el("button", { className: "ghost small", text, attrs: { type: "button" } });
      button.addEventListener("click", () => {
        if (refuseWhileBusy()) return;
        runTurn(chat, turn);
      });
      return button;
    };

    if (turn.state === "pending") {
      label.append(dots(), "Searching your articles…");
      return;
    }
    if (turn.state === "error") {
      card.setAttribute("role", "alert");
      label.append("Could not get an answer");
      body.append(el("p", { text: turn.error || "Something went wrong." }));
      if (isLast) actions.append(regenerate("Try again"));
      card.append(actions);
      return;
    }
    if (turn.state === "stopped") {
      label.append(turn.interrupted ? "Interrupted" : "Stopped");
      if (turn.partial) renderStreamingText(body, turn.partial, false);
      const why = turn.interrupted
        ? "This answer was cut short when the page was closed or reloaded."
        : "You stopped this answer.";
      card.append(el("p", { className: "answer-note", attrs: { "data-note": "stopped" }, text: why }));
      if (isLast) actions.append(regenerate("Regenerate"));
      card.append(actions);
      return;
    }

    const result = turn.result;
    label.append(answerLabel(result));
    renderAnswerText(body, result, (c, trigger) => openSource(c, trigger, turn, answerNo), answerNo);
    if (result.abstained) {
      card.append(el("p", { className: "answer-hint", text: "Try other words, or add articles that cover this." }));
    }
    if (result.unsupported.length) {
      const n = result.unsupported.length;
      card.append(
        el("p", {
          className: "answer-note",
          attrs: { "data-note": "unsupported" },
          text: `${n === 1 ? "One sentence is" : `${n} sentences are`} marked unsupported: no quote backs ${n === 1 ? "it" : "them"}.`,
        }),
      );
    }
    if (result.warning) {
      card.append(el("p", { className: "answer-note answer-warning", attrs: { "data-note": "warning" }, text: result.warning }));
    }
    if (result.fallbackReason) {
      const why = `The language model could not be used (${result.fallbackReason}), so this answer quotes the articles directly.`;
      card.append(el("p", { className: "answer-note", attrs: { "data-note": "fallback" }, text: why }));
    }
    const sources = renderSources(result, (c, trigger) => openSource(c, trigger, turn, answerNo), answerNo);
    if (sources) card.append(sources);
    const side = el("div", { className: "answer-actions-end" });
    if (isLast) side.append(regenerate("Regenerate"));
    if (!result.abstained) side.append(copyButton(result));
    actions.append(feedbackControls(chat, turn), side);
    card.append(actions);
  }

  function renderTurn(chat, turn, index) {
    const card = el("article", { className: "answer" });
    const node = el(
      "li",
      { className: "turn", attrs: { "data-turn": turn.id } },
      renderQuestion(chat, turn, index),
      card,
    );
    renderAnswer(chat, turn, index, card);
    return node;
  }

  /** The open chat, drawn from its stored turns (after a load, a switch or an edit). */
  function renderChat() {
    const chat = store.current();
    const turns = chat ? chat.turns : [];
    ui.log.replaceChildren(...turns.map((turn, i) => renderTurn(chat, turn, i)));
    ui.empty.hidden = turns.length > 0;
    if (!ui.panel.hidden && !turns.some((t) => t.id === panelOwner)) closeSource(false);
    markPanelOwner();
    renderChatList();
  }

  function renderChatList() {
    const chats = store.data.chats.filter((c) => c.turns.length);
    ui.chatsEmpty.hidden = chats.length > 0;
    ui.chatList.replaceChildren(
      ...chats.map((chat) => {
        const open = el(
          "button",
          { className: "chat-open", attrs: { type: "button" } },
          el("span", { className: "chat-title", text: chat.title || chatTitle(chat) }),
          el("span", {
            className: "chat-when",
            text: new Date(chat.updated || Date.now()).toLocaleString(undefined, {
              month: "short",
              day: "numeric",
              hour: "2-digit",
              minute: "2-digit",
            }),
          }),
        );
        if (chat.id === store.data.current) open.setAttribute("aria-current", "true");
        open.addEventListener("click", () => switchChat(chat.id));
        const remove = el("button", {
          className: "icon-button chat-delete",
          text: "✕",
          attrs: { type: "button", "aria-label": `Delete the chat “${chat.title || chatTitle(chat)}”` },
        });
        remove.addEventListener("click", () => deleteChat(chat.id));
        return el("li", { className: "chat-item" }, open, remove);
      }),
    );
  }

  /** Stop whatever is being answered, without a trace (the chat shown is changing). */
  function abandonAnswer() {
    state.generation += 1;
    state.controller?.abort();
    state.controller = null;
    if (state.busy) setBusy(false);
  }

  function switchChat(id) {
    if (id === store.data.current) {
      closeChats();
      return;
    }
    abandonAnswer();
    store.data.current = id;
    store.save();
    closeSource(false);
    renderChat();
    closeChats();
    scrollToBottom();
    ui.question.focus();
  }

  function deleteChat(id) {
    if (id === store.data.current) abandonAnswer();
    store.data.chats = store.data.chats.filter((c) => c.id !== id);
    if (id === store.data.current) store.data.current = null;
    store.save();
    renderChat();
  }

  function newChat() {
    abandonAnswer();
    // An empty chat is not kept: the next question starts one.
    store.data.current = null;
    store.save();
    closeSource(false);
    renderChat();
    closeChats();
    ui.question.value = "";
    updateCount();
    resizeQuestion();
    ui.question.focus();
  }

  /** Answer `turn` of `chat` (a new question, a regenerate, an edit or a correction). */
  async function runTurn(chat, turn) {
    const index = chat.turns.indexOf(turn);
    if (index < 0 || state.busy) return;
    closeSource(false); // the panel belongs to an earlier answer
    const generation = state.generation;
    Object.assign(turn, { state: "pending" });
    delete turn.result;
    delete turn.error;
    delete turn.partial;
    delete turn.vote;
    delete turn.interrupted;
    touch(chat);
    store.save();
    renderChat();
    scrollToBottom();
    const node = turnNode(turn);
    const card = node.querySelector("article.answer");
    const label = card.querySelector(".answer-label");
    const body = card.querySelector(".answer-text");
    setBusy(true);

    state.controller = new AbortController();
    let partial = "";
    const on = {
      question: (condensed) => {
        if (generation !== state.generation || turn.standalone) return;
        turn.condensed = condensed;
        const fresh = renderQuestion(chat, turn, index);
        node.querySelector(".question").replaceWith(fresh);
      },
      text: (text) => {
        if (generation !== state.generation) return;
        partial = text;
        // Follow the text as it grows, unless the reader has scrolled up to read.
        const atBottom = ui.chat.scrollHeight - ui.chat.scrollTop - ui.chat.clientHeight < 80;
        if (card.dataset.state !== "streaming") {
          card.dataset.state = "streaming";
          label.replaceChildren(dots(), "Answering…");
        }
        renderStreamingText(body, text);
        if (atBottom) scrollToBottom();
      },
    };
    // A corrected reading is asked as it is, on its own; otherwise with the turns before.
    const question = turn.standalone || turn.question;
    const history = turn.standalone ? [] : historyBefore(chat, index);
    try {
      const result = await getAnswer(question, history, on, state.controller.signal);
      if (generation !== state.generation) return;
      if (result.condensedQuestion && !turn.standalone) turn.condensed = result.condensedQuestion;
      turn.result = storableAnswer(result);
      turn.state = result.abstained ? "abstained" : "answered";
    } catch (error) {
      if (generation !== state.generation) return;
      if (error.name === "AbortError") {
        turn.state = "stopped";
        turn.partial = partial;
      } else {
        turn.state = "error";
        turn.error = error.message || String(error);
      }
    } finally {
      if (generation === state.generation) {
        state.controller = null;
        setBusy(false);
        touch(chat);
        store.save();
        renderChat();
        revealTurn(turnNode(turn));
      }
    }
  }

  function ask(question) {
    let chat = store.current();
    if (!chat) {
      chat = { id: newId(), title: "", updated: Date.now(), turns: [] };
      store.data.chats.unshift(chat);
      store.data.current = chat.id;
    }
    const turn = { id: newId(), question, state: "pending" };
    chat.turns.push(turn);
    if (chat.turns.length === 1) chat.title = chatTitle(chat);
    runTurn(chat, turn);
  }

  function stop() {
    if (!state.busy || !state.controller) return;

    state.controller.abort();
  }

  // ------------------------------------------------------------------ chat list (narrow screens)

  const narrow = window.matchMedia("(max-width: 820px)");
  const sidebarHidden = window.matchMedia("(max-width: 1099px)");

  function openChats() {
    ui.chats.classList.add("open");
    ui.showChats.setAttribute("aria-expanded", "true");
    ui.chatList.querySelector("button")?.focus();
  }

  function closeChats() {
    if (!ui.chats.classList.contains("open")) return;
    ui.chats.classList.remove("open");
    ui.showChats.setAttribute("aria-expanded", "false");
  }

  // ------------------------------------------------------------------ source panel

  let panelReturnFocus = null;
  let panelToken = 0;
  let panelOwner = null; // the id of the turn whose answer the panel shows a source of
  let panelInHistory = false; // a history entry stands for the open panel (phones)

  function markPanelOwner() {
    for (const node of ui.log.querySelectorAll("li.turn")) {
      node.classList.toggle("source-open", !ui.panel.hidden && node.dataset.turn === panelOwner);
    }
  }

  /** [{start, end}] of the paragraphs of `text` (blank lines separate them). */
  function paragraphs(text) {
    const out = [];
    const separator = /\n[ \t]*\n\s*/g;
    let start = 0;
    for (const match of text.matchAll(separator)) {
      if (match.index > start) out.push({ start, end: match.index });
      start = match.index + match[0].length;
    }
    if (start < text.length) out.push({ start, end: text.length });
    return out;
  }

  /** Where the quote lies in the article: its offsets when they still match, else a search. */
  function locateQuote(text, citation) {
    const { start, end, quote } = citation;
    if (Number.isInteger(start) && Number.isInteger(end) && text.slice(start, end) === quote) {
      return { start, end, exact: true };
    }
    const at = typeof quote === "string" && quote ? text.indexOf(quote) : -1;
    return at >= 0 ? { start: at, end: at + quote.length, exact: false } : null;
  }

  function paragraphNode(text, para, span) {
    const p = el("p", { className: "passage" });
    const from = Math.max(para.start, span?.start ?? para.end);
    const to = Math.min(para.end, span?.end ?? para.end);
    if (!span || from >= to) {
      p.append(text.slice(para.start, para.end));
      return p;
    }
    p.append(text.slice(para.start, from), el("mark", { text: text.slice(from, to) }), text.slice(to, para.end));
    return p;
  }

  async function openSource(citation, trigger, turn, answerNo) {
    const token = ++panelToken;
    panelReturnFocus?.removeAttribute("aria-current");
    panelReturnFocus = trigger;
    trigger.setAttribute("aria-current", "true");
    panelOwner = turn.id;
    const title = citation.title || citation.doc_id || "Untitled article";
    // Numbers restart with every answer: the panel names the answer it belongs to.
    ui.panelKicker.textContent = `Answer ${answerNo} · Source ${citation.n}`;
    ui.panelFor.textContent = `For “${truncate(turn.standalone || turn.question, 120)}”`;
    ui.panelTitle.textContent = title;
    ui.panelMeta.textContent = "Loading the article…";
    ui.panelMeta.hidden = false;
    ui.panelLink.replaceChildren();
    ui.panelNote.hidden = true;
    ui.panelMore.hidden = true;
    ui.panelBody.replaceChildren(el("p", { className: "passage", text: citation.quote || "" }));
    ui.panel.scrollTop = 0;
    ui.panel.hidden = false;
    document.body.classList.add("panel-open");
    markPanelOwner();
    if (narrow.matches && !panelInHistory) {
      // On a phone the panel covers the chat: the back button should close it.
      history.pushState({ citelinePanel: true }, "");
      panelInHistory = true;
    }
    ui.panel.focus();

    let doc;
    try {
      doc = await fetchDocument(citation.doc_id, citation.collection);
    } catch (error) {
      if (token !== panelToken) return;
      ui.panelMeta.textContent = "";
      ui.panelNote.hidden = false;
      ui.panelNote.textContent = `The article could not be loaded: ${error.message}. The quote is shown alone.`;
      ui.panelBody.replaceChildren(el("p", { className: "passage" }, el("mark", { text: citation.quote || "" })));
      return;
    }
    if (token !== panelToken) return; // another source was opened meanwhile
    renderSource(doc, citation, title);
  }

  function renderSource(doc, citation, fallbackTitle) {
    const text = typeof doc.text === "string" ? doc.text : "";
    ui.panelTitle.textContent = doc.title || fallbackTitle;
    const meta = [publisherOf(doc, citation), displayDate(doc.date), doc.author ? `By ${doc.author}` : null].filter(Boolean);
    const collection = citation.collection || doc.collection;
    if (namesCollections() && typeof collection === "string" && collection) meta.push(`Collection ${collection}`);
    ui.panelMeta.textContent = meta.join(" · ");
    ui.panelMeta.hidden = !meta.length;

    // Only a web address becomes a link; a file path or anything else is not shown.
    const url = safeUrl(doc.url) || safeUrl(citation.url);
    if (url) ui.panelLink.replaceChildren(externalLink(url, "Open the original article ↗"));

    const span = locateQuote(text, citation);
    const paras = paragraphs(text);
    if (!span) {
      ui.panelNote.hidden = false;
      ui.panelNote.textContent = "This quote is no longer in the article (it changed after the answer was given).";
      ui.panelBody.replaceChildren(el("p", { className: "passage" }, el("mark", { text: citation.quote || "" })));
    } else {
      if (!span.exact) {
        ui.panelNote.hidden = false;
        ui.panelNote.textContent = "The article changed since this answer; the quote was found at a new place.";
      }
      const hit = paras.filter((p) => p.start < span.end && p.end > span.start);
      ui.panelBody.replaceChildren(...hit.map((p) => paragraphNode(text, p, span)));
      ui.panelBody.querySelector("mark")?.scrollIntoView({ block: "nearest" });
    }
    if (span && paras.length > 1) {
      ui.panelMore.hidden = false;
      ui.panelMore.onclick = () => {
        ui.panelBody.replaceChildren(...paras.map((p) => paragraphNode(text, p, span)));
        ui.panelMore.hidden = true;
        ui.panelBody.querySelector("mark")?.scrollIntoView({ block: "center" });
      };
    }
  }

  function closeSource(restoreFocus = true) {
    if (ui.panel.hidden) return;
    panelToken += 1;
    ui.panel.hidden = true;
    document.body.classList.remove("panel-open");
    panelReturnFocus?.removeAttribute("aria-current");
    if (restoreFocus && panelReturnFocus?.isConnected) panelReturnFocus.focus();
    panelReturnFocus = null;
    panelOwner = null;
    markPanelOwner();
    if (panelInHistory) {
      // Closed by its button or Escape: take back the entry pushed when it opened.
      panelInHistory = false;
      history.back();
    }
  }

  window.addEventListener("popstate", () => {
    if (!panelInHistory) return;
    panelInHistory = false; // the back button already took the entry
    closeSource();
  });

  // ------------------------------------------------------------------ composer

  const autoSizes = CSS.supports?.("field-sizing", "content");
  const formatNumber = (n) => n.toLocaleString("en-US");

  function resizeQuestion() {
    if (autoSizes) return;
    ui.question.style.height = "auto";
    ui.question.style.height = `${Math.min(ui.question.scrollHeight, 200)}px`;
  }

  /** Why `text` cannot be sent, in words; null when it can. */
  function questionProblem(text) {
    if (!text) return "Type a question first.";
    if (text.length > questionLimit) {
      return `Your question is ${formatNumber(text.length)} characters long; the limit is ${formatNumber(questionLimit)}. Shorten it by ${formatNumber(text.length - questionLimit)} to send it.`;
    }
    return null;
  }

  function say(message, kind = "info") {
    ui.message.textContent = message;
    ui.message.dataset.kind = kind;
    ui.message.hidden = !message;
    ui.hint.hidden = Boolean(message);
  }

  function updateCount() {
    const length = ui.question.value.trim().length;
    ui.count.textContent = `${formatNumber(length)} / ${formatNumber(questionLimit)}`;
    const over = length > questionLimit;
    ui.count.dataset.level = over ? "over" : length >= questionLimit * 0.9 ? "near" : "ok";
    ui.question.setAttribute("aria-invalid", String(over));
    if (over) say(questionProblem(ui.question.value.trim()), "error");
    else if (ui.message.dataset.kind === "error" || ui.message.dataset.kind === "hint") say("");
  }

  function refuseWhileBusy() {
    if (!state.busy) return false;
    say("An answer is still coming: wait for it, or press Stop to ask something else.", "hint");
    return true;
  }

  function submitQuestion() {
    const question = ui.question.value.trim();
    if (refuseWhileBusy()) return;
    const problem = questionProblem(question);
    if (problem) {
      say(problem, "error");
      ui.question.focus();
      return;
    }
    say("");
    ui.question.value = "";
    updateCount();
    resizeQuestion();
    ask(question);
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitQuestion();
  });

  ui.question.addEventListener("keydown", (event) => {
    // isComposing: Enter that confirms an IME composition must not send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitQuestion();
    }
  });
  ui.question.addEventListener("input", () => {
    resizeQuestion();
    updateCount();
  });

  ui.stop.addEventListener("click", () => {
    stop();
    ui.question.focus();
  });
  ui.newChat.addEventListener("click", newChat);
  ui.showChats.addEventListener("click", () => (ui.chats.classList.contains("open") ? closeChats() : openChats()));
  ui.chatsClose.addEventListener("click", () => {
    closeChats();
    ui.showChats.focus();
  });
  ui.panelClose.addEventListener("click", () => closeSource());
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || ui.keyDialog.open) return;
    if (!ui.panel.hidden) closeSource();
    else if (ui.chats.classList.contains("open")) closeChats();
    else if (state.busy && document.activeElement === ui.question) stop();
  });
  // Citations name their collection once the key is known to read several.
  let namedCollections = namesCollections();
  window.addEventListener("citeline:collections", () => {
    if (namesCollections() === namedCollections || state.busy) return;
    namedCollections = namesCollections();
    renderChat();
  });
  ui.forgetKey.addEventListener("click", () => {
    auth.set(null);
    ui.question.focus();
  });
  // A tap beside the open drawer closes it, as on any phone.
  document.addEventListener("click", (event) => {
    if (!ui.chats.classList.contains("open")) return;
    if (ui.chats.contains(event.target) || ui.showChats.contains(event.target)) return;
    closeChats();
  });
  // Leaving the narrow layout closes the drawer it used.
  sidebarHidden.addEventListener?.("change", () => closeChats());

  // ------------------------------------------------------------------ start

  auth.set(auth.key);
  store.load();
  store.save(); // interrupted answers are recorded as such
  renderChat();
  scrollToBottom();
  updateCount();
  say("");
  (async () => {
    try {
      // With keys on, /readyz gives counts only to a key (those of its collections).
      const headers = auth.key ? { Authorization: `Bearer ${auth.key}` } : {};
      const response = await fetch("readyz", { credentials: "same-origin", headers });
      if (!response.ok) return;
      const ready = await response.json();
      const docs = Number(ready.documents) || 0;
      const chunks = Number(ready.chunks) || 0;
      ui.indexStatus.textContent = `${docs} ${docs === 1 ? "article" : "articles"} · ${chunks} passages indexed`;
      if (Number.isInteger(ready.max_question_chars) && ready.max_question_chars > 0) {
        questionLimit = ready.max_question_chars;
        updateCount();
      }
    } catch {
      // The status line is a nicety; asking still reports a real connection problem.
    }
  })();
  ui.question.focus();
})();
