// One turn of the conversation, built up from its journaled events as they stream in.
import { el, usageText } from "./api.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export function isTerminal(status) {
  return TERMINAL.has(status);
}

export class TurnView {
  constructor(turn, answer) {
    this.id = turn.id;
    this.answer = answer; // (requestId, optionId|null) => Promise, the API's permission answer
    this.parts = new Map();
    this.status = el("span", { class: "status" });
    this.usage = el("span", { class: "usage" });
    this.body = el("div", { class: "turn-body", "aria-live": "polite" });
    this.error = el("div");
    this.header = el("header", {}, el("strong", { class: "turn-agent" }, turn.agent),
      turn.model ? el("span", { class: "muted" }, turn.model) : "", this.status, this.usage);
    this.node = el("article", { class: "turn", dataset: { turnId: turn.id }, "aria-label": `turn with ${turn.agent}` },
      this.header, el("div", { class: "prompt" }, turn.prompt), this.body, this.error);
    this.update(turn);
  }

  update(turn) {
    this.turn = turn;
    this.status.textContent = turn.status;
    this.status.dataset.status = turn.status;
    this.usage.textContent = usageText(turn.usage);
    if (turn.status === "failed" && turn.error) this.error.replaceChildren(el("p", { role: "alert", class: "error" }, `Failed: ${turn.error}`));
  }

  apply(event) {
    const handler = this[`on_${event.type}`];
    if (handler) handler.call(this, event);
  }

  part(key, make) {
    if (!this.parts.has(key)) {
      const node = make();
      this.parts.set(key, node);
      this.body.append(node);
    }
    return this.parts.get(key);
  }

  on_text_delta(event) {
    this.part(`text:${event.part_id}`, () => el("div", { class: "text" })).append(event.text);
  }

  on_reasoning_delta(event) {
    const box = this.part(`reasoning:${event.part_id}`, () =>
      el("details", { class: "reasoning" }, el("summary", {}, "Reasoning"), el("div", { class: "text" })));
    box.lastChild.append(event.text);
  }

  on_tool_call(event) {
    const box = this.part(`tool:${event.tool_call_id}`, () => el("details", { class: "tool" }));
    const detail = [];
    if (event.input) detail.push(el("p", {}, "Input"), el("pre", {}, JSON.stringify(event.input, null, 2)));
    if (event.output) detail.push(el("p", {}, "Output"), el("pre", {}, event.output));
    box.replaceChildren(el("summary", {}, `Tool ${event.name}: ${event.title || ""} `,
      el("span", { class: "status", dataset: { status: event.status } }, event.status)), ...detail);
  }

  on_permission_request(event) {
    const box = this.part(`permission:${event.request_id}`, () => el("div", { class: "permission", role: "group" }));
    const message = el("span", { role: "alert" });
    const send = async (optionId) => {
      try {
        await this.answer(event.request_id, optionId);
        box.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      } catch (err) { message.textContent = err.message; }
    };
    box.setAttribute("aria-label", `permission question: ${event.title}`);
    box.replaceChildren(el("p", {}, el("strong", {}, "The agent asks: "), event.title),
      ...event.options.filter((o) => !o.kind.startsWith("reject")).map((o) =>
        el("button", { type: "button", class: "primary", onclick: () => send(o.option_id) }, `Allow: ${o.name}`)),
      " ", el("button", { type: "button", class: "danger", onclick: () => send(null) }, "Reject"), message);
  }

  on_permission_resolved(event) {
    const box = this.parts.get(`permission:${event.request_id}`);
    const said = el("p", { class: "resolved" }, `Answered: ${event.outcome}${event.reason ? ` (${event.reason})` : ""}`);
    if (box) box.replaceChildren(box.firstChild, said);
    else this.body.append(said);
  }

  on_usage(event) {
    this.usage.textContent = usageText({ ...event, cost_usd: event.cost_usd || null });
  }

  on_retry(event) {
    this.body.append(el("p", { class: "notice" }, `The agent retries (attempt ${event.attempt}): ${event.message}`));
  }

  on_context_reset(event) {
    this.body.append(el("p", { class: "notice" }, `Context reset: the agent starts without its earlier session (${event.reason}).`));
  }

  on_turn_failed(event) {
    this.error.replaceChildren(el("p", { role: "alert", class: "error" }, `Failed: ${event.error}`));
  }

  on_turn_cancelled(event) {
    this.error.replaceChildren(el("p", { class: "notice" }, `Cancelled: ${event.reason}`));
  }
}
