// Citeline chat page. Plain JS, no build step, no third-party code.
//
// Safety rule for this file: text that comes from articles or from the model is only
// ever put into the page with textContent / createElement / append(string). Nothing
// here assigns innerHTML, and only http(s) urls become links.
(() => {
  "use strict";

  const KEY_STORAGE = "citeline.apiKey";
  const QUOTE_PREVIEW_CHARS = 180;

  const $ = (id) => document.getElementById(id);
  const ui = {
    log: $("log"),
    empty: $("empty"),
    indexStatus: $("index-status"),
    form: $("composer"),
    question: $("question"),
    send: $("send"),
    newChat: $("new-chat"),
    forgetKey: $("forget-key"),
    chat: $("chat"),
    panel: $("source-panel"),
    panelKicker: $("source-kicker"),
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

  const auth = {
    key: readStoredKey(),
    set(key) {
      this.key = key;
      try {
        if (key) localStorage.setItem(KEY_STORAGE, key);
        else localStorage.removeItem(KEY_STORAGE);
      } catch {
        // Storage may be disabled (private mode): the key then lasts for this page only.
      }
      ui.forgetKey.hidden = !key;
    },
  };

  function readStoredKey() {
    try {
      return localStorage.getItem(KEY_STORAGE);
    } catch {
      return null;
    }
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
      ui.keyReason.textContent = `${sentence(reason)} The key is kept in this browser only.`;
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
      // Set when an LLM is configured but could not be used for this answer.
      fallbackReason: text(data?.fallback_reason),
      warning: null, // set by streamAnswer when the stream failed after all
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
      ? { messages: [...earlier, { role: "user", content: question }] }
      : { question };
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

  function fetchDocument(docId) {
    if (!documents.has(docId)) {
      // Each segment is encoded: ids are file paths and may hold "?", "#" or spaces.
      const path = `v1/documents/${docId.split("/").map(encodeURIComponent).join("/")}`;
      const pending = request(path).then((r) => r.json());
      pending.catch(() => documents.delete(docId)); // a failure is not cached
      documents.set(docId, pending);
    }
    return documents.get(docId);
  }

  // ------------------------------------------------------------------ answer rendering

  function chip(citation, onOpen) {
    const title = citation.title || citation.doc_id || "source";
    const button = el("button", {
      className: "chip",
      text: String(citation.n),
      attrs: { type: "button", "aria-label": `Source ${citation.n}: ${title}`, "data-n": String(citation.n) },
    });
    button.title = title;
    if (citation.supported === false) {
      // The server found that no sentence citing this source is backed by its quote.
      button.classList.add("chip-weak");
      button.title = `${title} (this quote does not clearly back the sentence)`;
      button.setAttribute("aria-label", `Source ${citation.n}, weak support: ${title}`);
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

  /** Append `text` to `parent`, turning [n] / [n, m] markers of known sources into chips. */
  function appendWithMarkers(parent, text, byNumber, onOpen) {
    const marker = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
    let last = 0;
    for (const match of text.matchAll(marker)) {
      const numbers = match[1].split(",").map((s) => Number(s.trim()));
      if (!numbers.every((n) => byNumber.has(n))) continue; // leave unknown markers as text
      if (match.index > last) parent.append(text.slice(last, match.index));
      for (const n of numbers) parent.append(chip(byNumber.get(n), onOpen));
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  /** A partial answer while it streams: markers become inert numbers until citations arrive. */
  function renderStreamingText(container, text) {
    container.replaceChildren();
    let last = 0;
    for (const match of text.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) {
      if (match.index > last) container.append(text.slice(last, match.index));
      for (const n of match[1].split(",")) {
        container.append(el("span", { className: "chip chip-pending", text: n.trim() }));
      }
      last = match.index + match[0].length;
    }
    if (last < text.length) container.append(text.slice(last));
    container.append(el("span", { className: "stream-caret", attrs: { "aria-hidden": "true" } }));
  }

  function renderAnswerText(container, result, onOpen) {
    container.replaceChildren();
    const byNumber = new Map(result.citations.map((c) => [c.n, c]));
    const text = result.answer;
    let at = 0;
    for (const [start, end] of unsupportedRanges(text, result.unsupported)) {
      if (start < at) continue;
      appendWithMarkers(container, text.slice(at, start), byNumber, onOpen);
      const span = el("span", { className: "unsupported", attrs: { "data-unsupported": "" } });
      span.title = "No source supports this sentence";
      appendWithMarkers(span, text.slice(start, end), byNumber, onOpen);
      span.append(el("span", { className: "visually-hidden", text: " (not supported by the sources)" }));
      container.append(span);
      at = end;
    }
    appendWithMarkers(container, text.slice(at), byNumber, onOpen);
  }

  /** One row per article (an answer often cites one article several times). */
  function renderSources(result, onOpen) {
    if (!result.citations.length) return null;
    const groups = new Map();
    for (const c of result.citations) {
      const key = c.doc_id ?? `#${c.n}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    }
    const list = el("ol", { className: "sources-list" });
    for (const citations of groups.values()) {
      const first = citations[0];
      const title = first.title || first.doc_id || "Untitled article";
      const open = el("button", { className: "source-item-title", text: title, attrs: { type: "button" } });
      open.addEventListener("click", () => onOpen(first, open));
      const host = safeUrl(first.url) ? new URL(first.url).hostname : null;
      const row = el(
        "li",
        { className: "source-row" },
        el("span", { className: "source-chips" }, ...citations.map((c) => chip(c, onOpen))),
        el("span", { className: "source-item-text" }, open, host ? el("span", { className: "source-host", text: host }) : null),
      );
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
        const where = safeUrl(c.url) || c.source || c.doc_id || "";
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

  // ------------------------------------------------------------------ conversation

  const state = {
    history: [], // [{role, content}] for /v1/chat when the server has it
    busy: false,
    controller: null,
    generation: 0, // bumps on New chat so late answers of the old chat are dropped
  };

  function setBusy(busy) {
    state.busy = busy;
    ui.send.disabled = busy;
    ui.send.textContent = busy ? "Asking…" : "Ask";
  }

  function scrollToBottom() {
    ui.chat.scrollTop = ui.chat.scrollHeight;
  }

  /** Show a finished turn: all of it when it fits, else from its question down. */
  function revealTurn(turn) {
    if (turn.offsetHeight > ui.chat.clientHeight) turn.scrollIntoView({ block: "start" });
    else scrollToBottom();
  }

  function answerCard() {
    const label = el("p", { className: "answer-label" });
    const body = el("div", { className: "answer-text" });
    const card = el("article", { className: "answer", attrs: { "data-state": "pending", "aria-busy": "true" } }, label, body);
    label.append(
      el("span", { className: "thinking-dots", attrs: { "aria-hidden": "true" } }, el("i"), el("i"), el("i")),
      "Searching your articles…",
    );
    return { card, label, body };
  }

  function showStreaming(parts, partial) {
    const { card, label, body } = parts;
    if (card.dataset.state !== "streaming") {
      card.dataset.state = "streaming";
      label.replaceChildren(
        el("span", { className: "thinking-dots", attrs: { "aria-hidden": "true" } }, el("i"), el("i"), el("i")),
        "Answering…",
      );
    }
    renderStreamingText(body, partial);
  }

  function normalQuestion(text) {
    return text.toLowerCase().replace(/[\s?.!]+/g, " ").trim();
  }

  /**
   * A follow-up is answered as the standalone question the server made of it; say
   * which, quietly, when it differs from what was typed, so a wrong guess is visible.
   */
  function showUnderstoodAs(parts, question, condensed) {
    if (!condensed || normalQuestion(condensed) === normalQuestion(question)) return;
    const note = el(
      "p",
      { className: "understood-as" },
      el("span", { className: "understood-as-label", text: "Understood as: " }),
      el("q", { text: condensed }),
    );
    parts.understood.replaceChildren(note);
    parts.understood.hidden = false;
  }

  function showAnswer(parts, result) {
    const { card, label, body } = parts;
    card.setAttribute("aria-busy", "false");
    card.dataset.state = result.abstained ? "abstained" : "answered";
    label.replaceChildren(result.abstained ? "Not found in your articles" : "Answer");
    renderAnswerText(body, result, openSource);
    if (result.abstained) {
      card.append(el("p", { className: "answer-hint", text: "Try other words, or add articles that cover this." }));
    }
    if (result.warning) {
      card.append(el("p", { className: "answer-note answer-warning", attrs: { "data-note": "warning" }, text: result.warning }));
    }
    if (result.fallbackReason) {
      const why = `The language model could not be used (${result.fallbackReason}), so this answer quotes the articles directly.`;
      card.append(el("p", { className: "answer-note", attrs: { "data-note": "fallback" }, text: why }));
    }
    const sources = renderSources(result, openSource);
    if (sources) card.append(sources);
    if (!result.abstained) card.append(el("div", { className: "answer-actions" }, copyButton(result)));
  }

  function showError(parts, error, retry) {
    const { card, label, body } = parts;
    card.setAttribute("aria-busy", "false");
    card.dataset.state = "error";
    card.setAttribute("role", "alert");
    label.replaceChildren("Could not get an answer");
    body.replaceChildren(el("p", { text: error.message || String(error) }));
    const again = el("button", { className: "ghost small", text: "Try again", attrs: { type: "button" } });
    again.addEventListener("click", () => {
      card.closest(".turn")?.remove();
      ask(retry);
    });
    card.append(el("div", { className: "answer-actions" }, again));
  }

  async function ask(question) {
    if (state.busy) return;
    const generation = state.generation;
    ui.empty.hidden = true;
    const parts = answerCard();
    parts.understood = el("div", { className: "understood" });
    parts.understood.hidden = true;
    const turn = el(
      "li",
      { className: "turn" },
      el("div", { className: "question" }, el("p", { className: "bubble", text: question }), parts.understood),
      parts.card,
    );
    ui.log.append(turn);
    scrollToBottom();
    setBusy(true);
    state.controller = new AbortController();
    const on = {
      question: (condensed) => showUnderstoodAs(parts, question, condensed),
      text: (partial) => {
        if (generation !== state.generation) return;
        // Follow the text as it grows, unless the reader has scrolled up to read.
        const atBottom = ui.chat.scrollHeight - ui.chat.scrollTop - ui.chat.clientHeight < 80;
        showStreaming(parts, partial);
        if (atBottom) scrollToBottom();
      },
    };
    try {
      const result = await getAnswer(question, state.history, on, state.controller.signal);
      if (generation !== state.generation) return;
      showUnderstoodAs(parts, question, result.condensedQuestion);
      showAnswer(parts, result);
      state.history.push({ role: "user", content: question }, { role: "assistant", content: result.answer });
    } catch (error) {
      if (generation !== state.generation || error.name === "AbortError") return;
      showError(parts, error, question);
    } finally {
      if (generation === state.generation) {
        setBusy(false);
        state.controller = null;
        revealTurn(turn);
      }
    }
  }

  function newChat() {
    state.generation += 1;
    state.controller?.abort();
    state.controller = null;
    state.history = [];
    setBusy(false);
    ui.log.replaceChildren();
    ui.empty.hidden = false;
    closeSource(false);
    ui.question.value = "";
    resizeQuestion();
    ui.question.focus();
  }

  // ------------------------------------------------------------------ source panel

  let panelReturnFocus = null;
  let panelToken = 0;

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

  async function openSource(citation, trigger) {
    const token = ++panelToken;
    panelReturnFocus?.removeAttribute("aria-current");
    panelReturnFocus = trigger;
    trigger.setAttribute("aria-current", "true");
    const title = citation.title || citation.doc_id || "Untitled article";
    ui.panelKicker.textContent = `Source ${citation.n}`;
    ui.panelTitle.textContent = title;
    ui.panelMeta.textContent = "Loading the article…";
    ui.panelLink.replaceChildren();
    ui.panelNote.hidden = true;
    ui.panelMore.hidden = true;
    ui.panelBody.replaceChildren(el("p", { className: "passage", text: citation.quote || "" }));
    ui.panel.hidden = false;
    document.body.classList.add("panel-open");
    ui.panel.focus();

    let doc;
    try {
      doc = await fetchDocument(citation.doc_id);
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
    const publication = typeof doc.metadata?.publication === "string" ? doc.metadata.publication : null;
    const meta = [doc.author ? `By ${doc.author}` : null, doc.date, publication].filter(Boolean);
    ui.panelMeta.textContent = meta.join(" · ");
    ui.panelMeta.hidden = !meta.length;

    const url = safeUrl(doc.url) || safeUrl(citation.url);
    const shownSource = doc.url || doc.source || citation.source;
    if (url) {
      ui.panelLink.replaceChildren(externalLink(url, "Open the original article ↗"));
    } else if (shownSource) {
      // Not an http(s) url (a file path, or something unsafe): shown, never linked.
      ui.panelLink.replaceChildren(el("span", { className: "muted", text: `From ${shownSource}` }));
    }

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
  }

  // ------------------------------------------------------------------ composer

  const autoSizes = CSS.supports?.("field-sizing", "content");

  function resizeQuestion() {
    if (autoSizes) return;
    ui.question.style.height = "auto";
    ui.question.style.height = `${Math.min(ui.question.scrollHeight, 200)}px`;
  }

  function submitQuestion() {
    const question = ui.question.value.trim();
    if (!question || state.busy) return;
    ui.question.value = "";
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
  ui.question.addEventListener("input", resizeQuestion);

  ui.newChat.addEventListener("click", newChat);
  ui.panelClose.addEventListener("click", () => closeSource());
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !ui.panel.hidden && !ui.keyDialog.open) closeSource();
  });
  ui.forgetKey.addEventListener("click", () => {
    auth.set(null);
    ui.question.focus();
  });

  // ------------------------------------------------------------------ start

  auth.set(auth.key);
  (async () => {
    try {
      const response = await fetch("readyz", { credentials: "same-origin" });
      if (!response.ok) return;
      const ready = await response.json();
      const docs = Number(ready.documents) || 0;
      const chunks = Number(ready.chunks) || 0;
      ui.indexStatus.textContent = `${docs} ${docs === 1 ? "article" : "articles"} · ${chunks} passages indexed`;
    } catch {
      // The status line is a nicety; asking still reports a real connection problem.
    }
  })();
  ui.question.focus();
})();
