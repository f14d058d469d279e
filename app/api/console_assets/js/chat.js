// A chat: the conversation streaming over SSE, the composer (agent chips, model, send, cancel), the diff panel.
import { api, el, CHIP_LABEL } from "./api.js";
import { isTerminal, TurnView } from "./turns.js";
import { DiffPanel } from "./diff.js";

export function renderChat(view, chatId) {
  const base = `/api/chats/${encodeURIComponent(chatId)}`;
  const turns = new Map();
  const conversation = el("section", { class: "conversation", "aria-label": "conversation" });
  const diff = new DiffPanel(base);
  const composer = new Composer(base, (turn) => addTurn(turn));
  const title = el("h1", {}, "Chat");
  view.append(title, el("div", { class: "chat-layout" },
    el("div", {}, conversation, composer.node), diff.node));
  let lastSeq = 0;
  let source = null;

  const answer = (turnId) => (requestId, optionId) =>
    api("POST", `${base}/turns/${turnId}/permissions/${encodeURIComponent(requestId)}`, { option_id: optionId });

  function addTurn(turn) {
    let shown = turns.get(turn.id);
    if (shown) shown.update(turn);
    else {
      shown = new TurnView(turn, answer(turn.id));
      turns.set(turn.id, shown);
      conversation.append(shown.node);
    }
    composer.running(latestOpen());
    return shown;
  }

  function latestOpen() {
    return [...turns.values()].map((t) => t.turn).filter((t) => !isTerminal(t.status)).pop() || null;
  }

  async function refreshTurn(turnId) {
    addTurn(await api("GET", `${base}/turns/${turnId}`));
  }

  async function onEvent(message) {
    const event = JSON.parse(message.data);
    if (event.seq <= lastSeq) return; // a reconnect never shows an event twice
    lastSeq = event.seq;
    let turn = turns.get(event.task_id);
    if (!turn) turn = addTurn(await api("GET", `${base}/turns/${event.task_id}`));
    turn.apply(event);
    if (turn.turn.status === "queued") turn.update({ ...turn.turn, status: "running" });
    if (["turn_completed", "turn_failed", "turn_cancelled"].includes(event.type)) {
      await refreshTurn(event.task_id);
      await Promise.all([diff.refresh(), composer.refreshChips()]);
    }
  }

  async function start() {
    const [chat, list] = await Promise.all([api("GET", base), api("GET", `${base}/turns`)]);
    title.textContent = chat.title || `Chat ${chat.id}`;
    title.after(el("p", { class: "muted" }, "Repository ", el("code", {}, chat.repo_path), ` · ${chat.status}`));
    list.forEach(addTurn);
    await Promise.all([composer.load(), diff.refresh()]);
    if (list.length) composer.pick(list[list.length - 1].agent); // carry on with the agent of the last turn
    // The chat's stream from its start: every event once, in seq order; EventSource reconnects by itself with
    // Last-Event-ID, and the seq check above drops anything already shown.
    source = new EventSource(`${base}/events`);
    let chain = Promise.resolve();
    source.onmessage = (message) => { chain = chain.then(() => onEvent(message)).catch(console.error); };
  }

  start().catch((err) => view.append(el("p", { role: "alert" }, err.message)));
  return () => source && source.close();
}

class Composer {
  constructor(base, onSubmitted) {
    this.base = base;
    this.onSubmitted = onSubmitted;
    this.agents = [];
    this.chips = {};
    this.open = null;
    this.agent = el("select", { id: "agent", name: "agent", onchange: () => this.showChip() });
    this.chip = el("span", { class: "chip", id: "agent-chip", "aria-live": "polite" });
    this.model = el("input", { id: "model", name: "model", placeholder: "agent's default" });
    this.prompt = el("textarea", { id: "prompt", name: "prompt", required: true,
      placeholder: "Ask the agent… (Ctrl/Cmd-Enter sends)", onkeydown: (e) => this.keydown(e) });
    this.send = el("button", { type: "submit", class: "primary" }, "Send");
    this.cancel = el("button", { type: "button", class: "danger", hidden: true, onclick: () => this.cancelTurn() }, "Cancel turn");
    this.message = el("p", { role: "alert", id: "composer-error" });
    this.node = el("form", { class: "composer card", "aria-label": "composer", onsubmit: (e) => this.submit(e) },
      el("label", { for: "prompt" }, "Prompt"), this.prompt,
      el("div", { class: "form-row" },
        el("label", { for: "agent" }, "Agent", this.agent),
        el("div", {}, el("span", { class: "muted" }, "Session: "), this.chip),
        el("label", { for: "model" }, "Model (this turn)", this.model),
        this.send, this.cancel),
      this.message);
  }

  async load() {
    this.agents = await api("GET", "/api/agents");
    this.agent.replaceChildren(...this.agents.map((a) =>
      el("option", { value: a.name, disabled: !a.found }, a.found ? a.name : `${a.name} (not installed)`)));
    await this.refreshChips();
  }

  async refreshChips() {
    this.chips = (await api("GET", `${this.base}/agent-sessions`)).chips;
    for (const option of this.agent.options) {
      const chip = this.chips[option.value];
      const found = this.agents.find((a) => a.name === option.value);
      option.textContent = `${option.value}${found && !found.found ? " (not installed)" : ""} · ${CHIP_LABEL[chip] || chip}`;
    }
    this.showChip();
  }

  pick(agent) {
    if ([...this.agent.options].some((o) => o.value === agent)) this.agent.value = agent;
    this.showChip();
  }

  showChip() {
    const chip = this.chips[this.agent.value] || "new";
    this.chip.textContent = CHIP_LABEL[chip] || chip;
    this.chip.dataset.chip = chip;
    const info = this.agents.find((a) => a.name === this.agent.value);
    const perTurn = !info || info.capabilities.model_per_turn;
    this.model.disabled = !perTurn;
    this.model.title = perTurn ? "" : "this agent takes its model from hearth's provider settings when it starts";
  }

  keydown(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.node.requestSubmit();
    }
  }

  async submit(event) {
    event.preventDefault();
    this.message.textContent = "";
    const body = { agent: this.agent.value, prompt: this.prompt.value };
    if (this.model.value.trim() && !this.model.disabled) body.model = this.model.value.trim();
    try {
      const turn = await api("POST", `${this.base}/turns`, body);
      this.prompt.value = "";
      this.onSubmitted(turn);
    } catch (err) {
      this.message.textContent = err.message;
    }
  }

  running(turn) {
    this.open = turn;
    this.cancel.hidden = !turn;
  }

  async cancelTurn() {
    if (!this.open) return;
    try {
      await api("POST", `${this.base}/turns/${this.open.id}/cancel`);
    } catch (err) {
      this.message.textContent = err.message;
    }
  }
}
