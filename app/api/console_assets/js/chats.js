// Chats: the list (with what each chat holds at risk), a new chat, close and delete with the risk spelled out.
import { api, el, Problem } from "./api.js";

export function renderChats(view) {
  const error = el("p", { role: "alert", id: "new-chat-error" });
  const repo = el("input", { id: "repo-path", name: "repo_path", required: true, placeholder: "/home/me/project" });
  const title = el("input", { id: "chat-title", name: "title", placeholder: "optional" });
  const form = el("form", { class: "card", "aria-labelledby": "new-chat-heading", onsubmit: create },
    el("h2", { id: "new-chat-heading" }, "New chat"),
    el("div", { class: "form-row" },
      el("label", { for: "repo-path" }, "Repository path (inside hearth's repository roots)", repo),
      el("label", { for: "chat-title" }, "Title", title),
      el("button", { type: "submit", class: "primary" }, "Create chat")),
    error);
  const list = el("section", { class: "card", "aria-labelledby": "chats-heading" },
    el("h2", { id: "chats-heading" }, "Chats"), el("p", {}, "Loading…"));
  view.append(form, list);

  async function create(event) {
    event.preventDefault();
    error.textContent = "";
    try {
      const chat = await api("POST", "/api/chats", { repo_path: repo.value.trim(), title: title.value.trim() || null });
      location.hash = `#/chats/${encodeURIComponent(chat.id)}`;
    } catch (err) {
      error.textContent = err.message; // the API's refusal, word for word (outside the roots, not a repository…)
    }
  }

  loadList(list).catch((err) => list.append(el("p", { role: "alert" }, err.message)));
}

async function loadList(section) {
  const chats = await api("GET", "/api/chats");
  const rows = await Promise.all(chats.map(summary));
  const table = el("table", { class: "chats-table" },
    el("thead", {}, el("tr", {},
      ["Title", "Repository", "Agents", "Last turn", "Pending", "Worktree risk", "Actions"].map((h, i) =>
        el("th", { scope: "col", class: i === 1 ? "wide" : null }, h)))),
    el("tbody", {}, rows.map((row) => chatRow(row, section))));
  section.replaceChildren(el("h2", { id: "chats-heading" }, "Chats"),
    chats.length ? table : el("p", { class: "muted" }, "No chats yet: create one above."));
}

async function summary(chat) {
  const base = `/api/chats/${encodeURIComponent(chat.id)}`;
  const [turns, changes, sessions, risk] = await Promise.all([
    api("GET", `${base}/turns`), api("GET", `${base}/changes`), api("GET", `${base}/agent-sessions`),
    api("GET", `${base}/worktree-risk`).catch(() => null),
  ]);
  return { chat, last: turns[turns.length - 1], pending: changes.changes.length, risk,
           agents: [...new Set(sessions.sessions.map((s) => s.agent))] };
}

function riskText(risk) {
  if (!risk) return "unknown";
  return risk.safe ? "safe" : (risk.reasons || []).join("; ");
}

function chatRow({ chat, last, pending, risk, agents }, section) {
  const name = chat.title || chat.id;
  const message = el("span", { role: "alert" });
  const force = el("input", { type: "checkbox", id: `force-${chat.id}` });
  async function act(kind) {
    const verb = kind === "close" ? "Close" : "Delete";
    const warn = risk && !risk.safe ? `\n\nThis would lose work: ${riskText(risk)}.` : "";
    if (!window.confirm(`${verb} chat "${name}"?${warn}${force.checked ? "\n(forced)" : ""}`)) return;
    const query = force.checked ? "?force=true" : "";
    const url = `/api/chats/${encodeURIComponent(chat.id)}${kind === "close" ? "/close" : ""}${query}`;
    try {
      await api(kind === "close" ? "POST" : "DELETE", url);
      await loadList(section);
    } catch (err) {
      message.textContent = err instanceof Problem && err.status === 409 ? `${err.message} (tick "force" to override)` : err.message;
    }
  }
  return el("tr", { dataset: { chat: chat.id } },
    el("td", {}, el("a", { href: `#/chats/${encodeURIComponent(chat.id)}` }, name), " ",
      el("span", { class: "status", dataset: { status: chat.status } }, chat.status)),
    el("td", { class: "wide" }, el("code", {}, chat.repo_path)),
    el("td", {}, agents.join(", ") || "none yet"),
    el("td", {}, last ? `${last.agent}: ` : "none", last ? el("span", { class: "status", dataset: { status: last.status } }, last.status) : ""),
    el("td", {}, String(pending)),
    el("td", {}, riskText(risk)),
    el("td", {},
      chat.status === "open" ? el("button", { type: "button", onclick: () => act("close") }, "Close") : "",
      " ", el("button", { type: "button", class: "danger", onclick: () => act("delete") }, "Delete"), " ",
      el("label", { for: `force-${chat.id}` }, force, " force"), message));
}
