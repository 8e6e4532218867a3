// The agent's screen: one websocket that reconnects by itself and pops the caller's context.
// Data from tickets and callers is put on the page with textContent only, never as HTML.
"use strict";

const WORDS = JSON.parse(document.getElementById("ui-words").textContent);
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const word = (key) => WORDS[key] || key;

const screenState = { socket: null, retryMs: 500, pops: new Map() };

function setLinkState(state) {
  const badge = document.getElementById("link-state");
  badge.dataset.state = state;
  badge.textContent = word(state === "up" ? "agent.connected" : "agent.disconnected");
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/agent/ws`);
  screenState.socket = socket;
  socket.addEventListener("open", () => {
    screenState.retryMs = 500;
    setLinkState("up");
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "pop") window.stickyPop.show(message.pop);
  });
  socket.addEventListener("close", (event) => {
    setLinkState("down");
    if (event.code === 4401) {
      location.assign("/agent/sign-in?expired=1");
      return;
    }
    // Capped backoff: a restarted server is found again within a few seconds.
    setTimeout(connect, screenState.retryMs);
    screenState.retryMs = Math.min(screenState.retryMs * 2, 5000);
  });
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || data.error || String(response.status));
  return data;
}

window.stickyScreen = { word, postJson, state: screenState };
document.addEventListener("DOMContentLoaded", connect);
