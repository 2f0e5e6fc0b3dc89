// A small Markdown renderer for answers written by a language model.
//
// It builds DOM nodes and never parses HTML: anything that looks like markup
// (<script>, <img onerror=...>) stays literal text. Supported: paragraphs, bullet and
// numbered lists, **strong**, *emphasis*, `code`, fenced code blocks, headings (shown as
// bold paragraphs) and [links](url) whose url is http(s); any other link shows its label
// as plain text. Every piece of plain text goes through `sink(parent, text, offset)`
// with its offset in the source string, so the caller can turn citation markers into
// buttons and mark unsupported sentences by their position in the original answer.
(() => {
  "use strict";

  const FENCE = /^ {0,3}(`{3,}|~{3,})/;
  const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])[ \t]+/;
  const HEADING = /^ {0,3}#{1,6}[ \t]+/;

  function safeHttpUrl(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  /** The source split into lines, each with its start offset (without its newline). */
  function linesOf(text) {
    const lines = [];
    let at = 0;
    for (const line of text.split("\n")) {
      lines.push({ text: line, start: at, end: at + line.length });
      at += line.length + 1;
    }
    return lines;
  }

  const blank = (line) => !line.text.trim();

  /** Blocks: {type: "p"|"h"|"code"|"ul"|"ol", start, end, items?: [{start, end}]} over the source. */
  function blocks(text) {
    const lines = linesOf(text);
    const out = [];
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (blank(line)) {
        i += 1;
        continue;
      }
      const fence = FENCE.exec(line.text);
      if (fence) {
        // Everything up to the closing fence (or the end) is code, shown as it is.
        const closing = new RegExp(`^ {0,3}${fence[1][0]}{${fence[1].length},}\\s*$`);
        let j = i + 1;
        while (j < lines.length && !closing.test(lines[j].text)) j += 1;
        const body = lines.slice(i + 1, j);
        out.push({
          type: "code",
          start: body.length ? body[0].start : line.end,
          end: body.length ? body[body.length - 1].end : line.end,
        });
        i = j + 1;
        continue;
      }
      if (HEADING.test(line.text)) {
        const prefix = HEADING.exec(line.text)[0].length;
        out.push({ type: "h", start: line.start + prefix, end: line.end });
        i += 1;
        continue;
      }
      const item = ITEM.exec(line.text);
      if (item) {
        const ordered = /\d/.test(item[2]);
        const list = { type: ordered ? "ol" : "ul", items: [], first: ordered ? parseInt(item[2], 10) : 1 };
        while (i < lines.length) {
          const m = ITEM.exec(lines[i].text);
          if (!m || /\d/.test(m[2]) !== ordered) break;
          const entry = { start: lines[i].start + m[0].length, end: lines[i].end };
          i += 1;
          // Continuation lines: not blank, not a new item, not a fence.
          while (i < lines.length && !blank(lines[i]) && !ITEM.test(lines[i].text) && !FENCE.test(lines[i].text)) {
            entry.end = lines[i].end;
            i += 1;
          }
          list.items.push(entry);
          // A blank line between items keeps the list going.
          if (i < lines.length && blank(lines[i]) && i + 1 < lines.length && ITEM.test(lines[i + 1].text)) {
            const next = ITEM.exec(lines[i + 1].text);
            if (/\d/.test(next[2]) === ordered) i += 1;
          }
        }
        out.push(list);
        continue;
      }
      const para = { type: "p", start: line.start, end: line.end };
      i += 1;
      while (
        i < lines.length &&
        !blank(lines[i]) &&
        !FENCE.test(lines[i].text) &&
        !HEADING.test(lines[i].text) &&
        !ITEM.test(lines[i].text)
      ) {
        para.end = lines[i].end;
        i += 1;
      }
      out.push(para);
    }
    return out;
  }

  /** Where the closing delimiter `delim` of an emphasis run opened at `from` is, or -1. */
  function closingDelimiter(text, from, delim, end) {
    let at = from;
    while (at < end) {
      const next = text.indexOf(delim, at);
      if (next < 0 || next + delim.length > end) return -1;
      const before = text[next - 1];
      const after = text[next + delim.length];
      const single = delim.length === 1;
      // A closer follows a non-space; a single * must not be half of a ** run;
      // _ closes only at a word's end (snake_case stays text).
      const ok =
        next > from &&
        before !== undefined &&
        !/\s/.test(before) &&
        !(single && (after === delim || before === delim)) &&
        !(delim[0] === "_" && after !== undefined && /\w/.test(after));
      if (ok) return next;
      at = next + 1;
    }
    return -1;
  }

  /** The ")" that closes a link's "(" opened just before `from` (urls may hold pairs), or -1. */
  function closingParen(text, from, end) {
    let depth = 1;
    for (let i = from; i < end; i += 1) {
      if (text[i] === "(") depth += 1;
      else if (text[i] === ")" && --depth === 0) return i;
    }
    return -1;
  }

  /** Inline markup of text[start:end] appended to parent. */
  function inline(parent, text, start, end, sink) {
    let plain = start; // where the pending plain text began
    let i = start;
    const flush = (upTo) => {
      if (upTo > plain) sink(parent, text.slice(plain, upTo), plain);
    };
    while (i < end) {
      const ch = text[i];
      if (ch === "\\" && i + 1 < end && /[\\`*_[\]()#+\-.!>~]/.test(text[i + 1])) {
        flush(i);
        sink(parent, text[i + 1], i + 1);
        i += 2;
        plain = i;
        continue;
      }
      if (ch === "`") {
        let run = 1;
        while (text[i + run] === "`") run += 1;
        const ticks = "`".repeat(run);
        const close = text.indexOf(ticks, i + run);
        if (close >= 0 && close + run <= end && text[close + run] !== "`") {
          flush(i);
          parent.append(Object.assign(document.createElement("code"), { textContent: text.slice(i + run, close) }));
          i = close + run;
          plain = i;
          continue;
        }
        i += run;
        continue;
      }
      if (ch === "*" || ch === "_") {
        const double = text[i + 1] === ch;
        const delim = double ? ch + ch : ch;
        const after = text[i + delim.length];
        const before = text[i - 1];
        const canOpen =
          after !== undefined &&
          !/\s/.test(after) &&
          !(ch === "_" && before !== undefined && /\w/.test(before));
        if (canOpen) {
          const close = closingDelimiter(text, i + delim.length, delim, end);
          if (close >= 0) {
            flush(i);
            const node = document.createElement(double ? "strong" : "em");
            inline(node, text, i + delim.length, close, sink);
            parent.append(node);
            i = close + delim.length;
            plain = i;
            continue;
          }
        }
        i += delim.length;
        continue;
      }
      if (ch === "[") {
        // [label](url): a link only when the url is http(s); a citation marker [1] is
        // not followed by "(" and stays plain text for the sink.
        const labelEnd = text.indexOf("]", i + 1);
        if (labelEnd > i && labelEnd < end && text[labelEnd + 1] === "(") {
          const urlEnd = closingParen(text, labelEnd + 2, end);
          if (urlEnd > 0) {
            flush(i);
            const raw = text.slice(labelEnd + 2, urlEnd).trim();
            const href = /^https?:\/\//i.test(raw) ? safeHttpUrl(raw) : null;
            if (href) {
              const a = document.createElement("a");
              a.href = href;
              a.target = "_blank";
              a.rel = "noopener noreferrer";
              inline(a, text, i + 1, labelEnd, sink);
              parent.append(a);
            } else {
              // Not a web address (javascript:, data:, a relative path): the label alone.
              inline(parent, text, i + 1, labelEnd, sink);
            }
            i = urlEnd + 1;
            plain = i;
            continue;
          }
        }
      }
      i += 1;
    }
    flush(end);
  }

  /**
   * Render `text` into a DocumentFragment. `sink(parent, text, offset)` appends plain
   * text (default: as a text node); it must never treat the text as markup.
   */
  function render(text, sink = (parent, s) => parent.append(s)) {
    const source = String(text).replace(/\r\n?/g, "\n");
    const fragment = document.createDocumentFragment();
    for (const block of blocks(source)) {
      if (block.type === "code") {
        const pre = document.createElement("pre");
        const code = document.createElement("code");
        code.textContent = source.slice(block.start, block.end);
        pre.append(code);
        fragment.append(pre);
      } else if (block.type === "ul" || block.type === "ol") {
        const list = document.createElement(block.type);
        if (block.type === "ol" && block.first !== 1) list.start = block.first;
        for (const item of block.items) {
          const li = document.createElement("li");
          inline(li, source, item.start, item.end, sink);
          list.append(li);
        }
        fragment.append(list);
      } else {
        const p = document.createElement("p");
        if (block.type === "h") {
          p.className = "md-heading";
          const strong = document.createElement("strong");
          inline(strong, source, block.start, block.end, sink);
          p.append(strong);
        } else {
          inline(p, source, block.start, block.end, sink);
        }
        fragment.append(p);
      }
    }
    return fragment;
  }

  window.CitelineMarkdown = Object.freeze({ render });
})();
