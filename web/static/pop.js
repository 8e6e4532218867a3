// Rendering one pop (filled in by the agent-screen work).
"use strict";
window.stickyPop = {
  show(pop) {
    const waiting = document.getElementById("waiting");
    if (waiting) waiting.hidden = true;
    const card = document.createElement("section");
    card.className = "pop";
    card.dataset.callId = pop.call_id;
    card.textContent = pop.call_id;
    document.getElementById("pops").prepend(card);
  },
};
