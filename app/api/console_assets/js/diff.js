// The diff panel: pending changes per file with the agent that made them, apply / discard / edit, and the staging
// boundary (the changes live in the chat's worktree until applied to the checkout).
import { api, el, short } from "./api.js";
import { highlight, highlightable } from "./highlight.js";

export class DiffPanel {
  constructor(base) {
    this.base = base;
    this.message = el("p", { role: "alert", id: "diff-error" });
    this.content = el("div");
    this.node = el("section", { class: "card diff-panel", "aria-labelledby": "diff-heading" },
      el("h2", { id: "diff-heading" }, "Pending changes"), this.message, this.content);
  }

  async refresh() {
    const [pending, boundary] = await Promise.all([
      api("GET", `${this.base}/changes`),
      api("GET", `${this.base}/changes/boundary`).catch(() => null), // no worktree before the first turn
    ]);
    const rows = pending.changes.map((change) => this.row(change));
    const note = pending.contributors.length > 1
      ? el("p", { class: "contributors" }, `Changes from ${pending.contributors.join(", ")}`) : "";
    const all = pending.changes.length ? el("div", { class: "row" },
      el("button", { type: "button", class: "primary", onclick: () => this.act("apply", null) }, "Apply all"), " ",
      el("button", { type: "button", class: "danger", onclick: () => this.act("discard", null) }, "Discard all")) : "";
    this.content.replaceChildren(this.boundary(boundary), note, all,
      rows.length ? el("div", {}, rows) : el("p", { class: "muted", id: "no-changes" }, "No pending changes."),
      this.editor());
  }

  boundary(found) {
    if (!found) return el("p", { class: "boundary muted" }, "The chat's worktree is made by its first turn.");
    const diverged = found.diverged.length
      ? el("p", { class: "notice", role: "alert" }, `The checkout changed ${found.diverged.join(", ")} since the base: `
        + "applying them would conflict. Commit or revert them in the checkout, or discard them here.") : "";
    return el("div", { class: "boundary" },
      el("p", {}, "These changes live in the chat's worktree ", el("code", {}, found.worktree),
        " and reach your checkout ", el("code", {}, found.checkout), " only when applied."),
      el("p", { class: "muted" }, "Base ", el("code", {}, short(found.base_commit)), " · checkout HEAD ",
        el("code", {}, short(found.checkout_head))), diverged);
  }

  row(change) {
    const badge = change.badge || "manual edit";
    return el("article", { class: "change", dataset: { path: change.path }, "aria-label": `change to ${change.path}` },
      el("div", { class: "row" },
        el("span", { class: "path" }, change.path),
        el("span", { class: "badge", title: `contributors: ${change.contributors.join(", ") || "none"}` }, badge),
        el("button", { type: "button", onclick: () => this.act("apply", [change.path]), "aria-label": `Apply ${change.path}` }, "Apply"),
        el("button", { type: "button", class: "danger", onclick: () => this.act("discard", [change.path]), "aria-label": `Discard ${change.path}` }, "Discard"),
        el("button", { type: "button", onclick: () => this.startEdit(change.path), "aria-label": `Edit ${change.path}` }, "Edit")),
      diffView(change.path, change.diff));
  }

  async act(kind, paths) {
    this.message.textContent = "";
    try {
      await api("POST", `${this.base}/changes/${kind}`, { paths });
    } catch (err) {
      this.message.textContent = err.message;
    }
    await this.refresh();
  }

  editor() {
    this.editPath = el("input", { id: "edit-path", name: "path", required: true });
    this.editContent = el("textarea", { id: "edit-content", name: "content", rows: 6 });
    const save = async (event) => {
      event.preventDefault();
      this.message.textContent = "";
      try {
        await api("PUT", `${this.base}/files`, { path: this.editPath.value, content: this.editContent.value });
        await this.refresh();
      } catch (err) { this.message.textContent = err.message; }
    };
    return el("details", { class: "manual-edit" }, el("summary", {}, "Manual edit"),
      el("form", { onsubmit: save },
        el("label", { for: "edit-path" }, "File (relative to the worktree)"), this.editPath,
        el("label", { for: "edit-content" }, "New content"), this.editContent,
        el("button", { type: "submit" }, "Save into the worktree")));
  }

  startEdit(path) {
    const details = this.content.querySelector(".manual-edit");
    details.open = true;
    this.editPath.value = path;
    this.editContent.focus();
  }
}

function diffView(path, text) {
  const colour = highlightable(path);
  let inHunk = false;
  const lines = text.replace(/\n$/, "").split("\n").map((line) => {
    if (line.startsWith("@@")) inHunk = true;
    const kind = line.startsWith("@@") ? "hunk" : line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del" : "ctx";
    if (!colour || !inHunk || kind === "hunk" || !line) return el("span", { class: kind }, line || " ");
    return el("span", { class: kind }, line[0], ...highlight(path, line.slice(1)));
  });
  return el("pre", { class: "diff", tabindex: "0", "aria-label": "unified diff" }, lines);
}
