// A small syntax colouring for diff lines of common languages: strings, comments and keywords. Built from DOM text
// nodes only (never innerHTML), so file content cannot inject markup.
import { el } from "./api.js";

const KEYWORDS = new Set(("and as async await break case catch class const continue def del elif else export except " +
  "extends false False finally for from function if import in interface is lambda let new None not null or pass " +
  "raise return self static struct switch this throw true True try type typeof var while with yield fn pub use mut impl").split(" "));
const HASH_COMMENT = /\.(py|sh|rb|toml|ya?ml|pl|r)$/i;
const SLASH_COMMENT = /\.(js|mjs|ts|tsx|jsx|java|c|h|cc|cpp|hpp|go|rs|cs|kt|swift|css|scss)$/i;
const TOKEN = /("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)|([A-Za-z_][A-Za-z0-9_]*)/g;

export function highlightable(path) {
  return HASH_COMMENT.test(path) || SLASH_COMMENT.test(path);
}

// The code of one diff line (its +/-/space prefix already removed) as coloured spans.
export function highlight(path, code) {
  const marker = HASH_COMMENT.test(path) ? "#" : "//";
  const cut = commentStart(code, marker);
  const body = cut < 0 ? code : code.slice(0, cut);
  const out = [];
  let last = 0;
  for (const match of body.matchAll(TOKEN)) {
    if (match[2] && !KEYWORDS.has(match[2])) continue;
    out.push(body.slice(last, match.index));
    out.push(el("i", { class: match[1] ? "hl-str" : "hl-kw" }, match[0]));
    last = match.index + match[0].length;
  }
  out.push(body.slice(last));
  if (cut >= 0) out.push(el("i", { class: "hl-com" }, code.slice(cut)));
  return out;
}

function commentStart(code, marker) {
  let quote = null;
  for (let i = 0; i < code.length; i += 1) {
    const ch = code[i];
    if (quote) {
      if (ch === "\\") i += 1;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'" || ch === "`") quote = ch;
    else if (code.startsWith(marker, i)) return i;
  }
  return -1;
}
