// A hash router over the three views; each view returns a cleanup (closes its event stream).
import { renderChats } from "./chats.js";
import { renderChat } from "./chat.js";
import { renderAgents } from "./agents.js";

const view = document.getElementById("view");
let cleanup = () => {};

function route() {
  cleanup();
  cleanup = () => {};
  view.replaceChildren();
  const hash = location.hash || "#/";
  const chat = hash.match(/^#\/chats\/([^/]+)$/);
  if (chat) cleanup = renderChat(view, decodeURIComponent(chat[1])) || cleanup;
  else if (hash === "#/agents") renderAgents(view);
  else renderChats(view);
}

window.addEventListener("hashchange", route);
route();
