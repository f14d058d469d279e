// Agents and health: each configured agent (found, or the fix `hearth doctor` names), live sessions, and the node.
import { api, el } from "./api.js";

export async function renderAgents(view) {
  const agents = el("section", { class: "card", "aria-labelledby": "agents-heading" },
    el("h2", { id: "agents-heading" }, "Agents"));
  const health = el("section", { class: "card", "aria-labelledby": "health-heading" },
    el("h2", { id: "health-heading" }, "Health"));
  view.append(agents, health);
  try {
    const [catalogue, state] = await Promise.all([api("GET", "/api/agents"), fetchHealth()]);
    agents.append(el("table", {},
      el("thead", {}, el("tr", {}, ["Agent", "Backend", "Installed", "Permission", "Live sessions", "Model per turn"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, catalogue.map((a) => el("tr", { dataset: { agent: a.name } },
        el("td", {}, a.name), el("td", {}, a.backend),
        el("td", {}, a.found ? el("code", {}, a.path || "found") : el("span", { class: "error" }, a.problem || "missing")),
        el("td", {}, a.permission), el("td", {}, String(a.live_sessions)),
        el("td", {}, a.capabilities.model_per_turn ? "yes" : "no"))))));
    health.append(
      el("p", {}, "Status: ", el("span", { class: "status", dataset: { status: state.status === "ok" ? "succeeded" : "failed" } }, state.status),
        ` · version ${state.version} · node ${state.node_id}`),
      el("p", {}, `Store (${state.store.kind}): ${state.store.ok ? "reachable" : state.store.error || "unreachable"}`),
      el("p", {}, `Turns running: ${state.dispatcher.running_turns} of ${state.dispatcher.max_parallel_turns}`,
        state.dispatcher.accepting ? "" : " (not accepting: shutting down)"),
      el("p", {}, `Live agent sessions: ${state.pool.live.length ?? Object.keys(state.pool.live).length} of ${state.pool.max_live}`),
      el("details", {}, el("summary", {}, "Jobs and recovery"), el("pre", {}, JSON.stringify({ jobs: state.jobs, recovery: state.recovery }, null, 2))));
  } catch (err) {
    view.append(el("p", { role: "alert" }, err.message));
  }
}

async function fetchHealth() {
  const response = await fetch("/api/health", { credentials: "same-origin" });
  return response.json(); // 503 still carries the picture (degraded)
}
