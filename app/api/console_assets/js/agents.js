// Agents and health: each configured agent (found, or the fix `hearth doctor` names), its live sessions, process
// memory, crashes and supervision state (dead with its reason), and the node's store and jobs.
import { api, el } from "./api.js";

export async function renderAgents(view) {
  const agents = el("section", { class: "card", "aria-labelledby": "agents-heading" },
    el("h2", { id: "agents-heading" }, "Agents"));
  const health = el("section", { class: "card", "aria-labelledby": "health-heading" },
    el("h2", { id: "health-heading" }, "Health"));
  view.append(agents, health);
  try {
    const [catalogue, state, metrics] = await Promise.all([api("GET", "/api/agents"), fetchHealth(), fetchMetrics()]);
    const supervised = (state.jobs && state.jobs.backend_health) || {};
    agents.append(el("table", {},
      el("thead", {}, el("tr", {}, ["Agent", "Installed", "Live sessions", "Memory", "Crashes", "State", "Permission"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, catalogue.map((a) => agentRow(a, supervised[a.name] || {}, metrics, () => renderAgain(view))))));
    health.append(
      el("p", {}, "Status: ", el("span", { class: "status", dataset: { status: state.status === "ok" ? "succeeded" : "failed" } }, state.status),
        ` · version ${state.version} · node ${state.node_id}`),
      el("p", {}, `Store (${state.store.kind}): ${state.store.ok ? "reachable" : state.store.error || "unreachable"}`),
      el("p", {}, `Turns running: ${state.dispatcher.running_turns} of ${state.dispatcher.max_parallel_turns}`,
        state.dispatcher.accepting ? "" : " (not accepting: shutting down)"),
      el("p", {}, `Live agent sessions: ${Object.keys(state.pool.live || {}).length} of ${state.pool.max_live}`),
      el("p", {}, `Jobs: ${jobsText(state.jobs)}`),
      el("details", {}, el("summary", {}, "Everything /api/health says"), el("pre", {}, JSON.stringify(state, null, 2))));
  } catch (err) {
    view.append(el("p", { role: "alert" }, err.message));
  }
}

function renderAgain(view) {
  view.replaceChildren();
  renderAgents(view);
}

function agentRow(agent, supervised, metrics, refresh) {
  const dead = supervised.state === "dead";
  const message = el("span", { role: "alert" });
  const reset = async () => {
    try { await api("POST", `/api/agents/${encodeURIComponent(agent.name)}/reset`); refresh(); } catch (err) { message.textContent = err.message; }
  };
  const rss = metrics.rss[agent.name];
  return el("tr", { dataset: { agent: agent.name } },
    el("td", {}, el("strong", {}, agent.name), el("br"), el("span", { class: "muted" }, agent.backend)),
    el("td", {}, agent.found ? el("code", {}, agent.path || "found") : el("span", { class: "error" }, agent.problem || "missing")),
    el("td", {}, String(agent.live_sessions)),
    el("td", {}, rss ? `${(rss / 1048576).toFixed(0)} MiB` : "no process"),
    el("td", {}, String(metrics.crashes[agent.name] || 0)),
    el("td", {}, supervised.state || "not started",
      supervised.reason ? el("span", { class: dead ? "error" : "muted" }, `: ${supervised.reason}`) : "",
      dead ? el("button", { type: "button", onclick: reset, "aria-label": `Reset ${agent.name}` }, "Reset") : "", message),
    el("td", {}, agent.permission));
}

function jobsText(jobs) {
  const states = (jobs && jobs.jobs) || {};
  const failing = Object.entries(states).filter(([, s]) => s.last_error).map(([name, s]) => `${name} failed: ${s.last_error}`);
  return `${Object.keys(states).length} scheduled${jobs && jobs.running ? "" : " (scheduler stopped)"}` +
    (failing.length ? `; ${failing.join("; ")}` : ", none failing");
}

async function fetchHealth() {
  const response = await fetch("/api/health", { credentials: "same-origin" });
  return response.json(); // 503 still carries the picture (degraded)
}

// The per-agent gauges /metrics already publishes (resident memory per process, crashes), summed per agent.
async function fetchMetrics() {
  const response = await fetch("/metrics", { credentials: "same-origin" });
  const text = response.ok ? await response.text() : "";
  const sum = (name) => {
    const out = {};
    for (const match of text.matchAll(new RegExp(`^${name}\\{agent="([^"]+)"[^}]*\\} (\\S+)$`, "gm"))) {
      out[match[1]] = (out[match[1]] || 0) + Number(match[2]);
    }
    return out;
  };
  return { rss: sum("hearth_agent_process_rss_bytes"), crashes: sum("hearth_crashes_total") };
}
