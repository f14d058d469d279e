// The console's only way into hearth: the JSON API (same routes, same refusals as every other client).

export class Problem extends Error {
  constructor(status, body) {
    const detail = body && (body.detail || body.title) ? `${body.title || "error"}: ${body.detail || ""}` : `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.body = body || {};
  }
}

export async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  if (response.status === 401) {
    location.assign("/"); // the token is gone (logged out, hearth restarted with another): back to the form
    throw new Problem(401, { title: "not authorized", detail: "log in with hearth's API token" });
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Problem(response.status, data);
  return data;
}

// el("button", {class: "primary", onclick: f}, "Send") -> a DOM element; children may be strings or nodes
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function short(sha) {
  return sha ? sha.slice(0, 10) : "none";
}

export const CHIP_LABEL = {
  resumed: "resumed session",
  restarted: "restarted after a crash",
  history: "history",
  new: "new session",
};

export function usageText(usage) {
  if (!usage) return "";
  const cost = usage.cost_usd === null || usage.cost_usd === undefined ? "cost unknown" : `$${usage.cost_usd.toFixed(4)}`;
  return `${usage.input_tokens} in / ${usage.output_tokens} out tokens` +
    (usage.reasoning_tokens ? ` (${usage.reasoning_tokens} reasoning)` : "") + `, ${cost}`;
}
