// The supervisors' live view: one websocket that reconnects by itself; every message is the
// whole state of the line, drawn with textContent only (names and queues are data, not HTML).
"use strict";

const WORDS = JSON.parse(document.getElementById("ui-words").textContent);
const word = (key, fallback) => WORDS[key] || fallback || key;
const live = { retryMs: 500 };

function setLinkState(up) {
  const badge = document.getElementById("link-state");
  badge.dataset.state = up ? "up" : "down";
  badge.textContent = word(up ? "live.connected" : "live.disconnected");
}

function row(cells, attributes) {
  const tr = document.createElement("tr");
  for (const [name, value] of Object.entries(attributes || {})) tr.dataset[name] = value;
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  return tr;
}

function fill(tableId, rows, emptyId) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...rows);
  if (emptyId) document.getElementById(emptyId).hidden = rows.length > 0;
}

function decision(call) {
  if (call.missed_because) {
    const why = word(`reason.${call.missed_because}`, call.missed_because);
    return word("live.missed").replace("{reason}", why);
  }
  if (!call.reason) return "";
  return word(`live.decision.${call.reason}`, word(`reason.${call.reason}`, call.reason));
}

function draw(state) {
  document.getElementById("live-problem").hidden = true;
  fill("live-calls", state.calls.map((call) => row(
    [call.caller, call.queue, word(`live.call.${call.state}`, call.state), call.agent,
      decision(call), word("live.seconds").replace("{seconds}", call.seconds)],
    { state: call.state, agent: call.agent },
  )), "live-no-calls");
  document.getElementById("live-agents-unknown").hidden = state.agents_known;
  fill("live-agents", state.agents.map((agent) => row(
    [agent.display_name,
      word(`live.agent.${agent.state}`, agent.state) + (agent.pause_reason ? ` (${agent.pause_reason})` : ""),
      agent.queues.join(", "), String(agent.sticky_this_hour)],
    { name: agent.name, state: agent.state },
  )));
  fill("live-misses", state.misses.map((miss) => row(
    [miss.at, miss.queue, miss.agent, word(`reason.${miss.reason}`, miss.reason)],
    { reason: miss.reason, agent: miss.agent },
  )), "live-no-misses");
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/admin/live/ws`);
  socket.addEventListener("open", () => {
    live.retryMs = 500;
    setLinkState(true);
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "live") draw(message);
    if (message.type === "unavailable") {
      const problem = document.getElementById("live-problem");
      problem.textContent = word("live.unavailable");
      problem.hidden = false;
    }
  });
  socket.addEventListener("close", (event) => {
    setLinkState(false);
    if (event.code === 4401) {
      location.assign("/admin/sign-in?expired=1");
      return;
    }
    setTimeout(connect, live.retryMs);
    live.retryMs = Math.min(live.retryMs * 2, 5000);
  });
}

document.addEventListener("DOMContentLoaded", connect);
