// One pop: why the call reached you and who is calling first, then tickets, history, marks,
// then what you can do about the call. Every value is put in with textContent (el() below),
// never parsed as HTML: a ticket subject like <img onerror=...> shows as the text it is.
"use strict";

(() => {
  const { word, postJson } = window.stickyScreen;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("data-")) node.dataset[name.slice(5).replace(/-(.)/g, (_, c) => c.toUpperCase())] = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function when(iso, lang) {
    if (!iso) return "";
    const locale = lang === "ru" ? "ru-RU" : "en-GB";
    return new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
  }

  function summary(pop) {
    const caller = pop.caller;
    const facts = [
      caller.number && [word("pop.number"), caller.number],
      caller.account && [word("pop.account"), caller.account],
      caller.class && [word("pop.class"), caller.class],
      caller.language && [word("pop.language"), caller.language],
      caller.personal_manager && [word("pop.personal_manager"), caller.personal_manager],
    ].filter(Boolean);
    const keyed = pop.keyed.length
      ? pop.keyed.map((k) => `${k.label} ${k.value}`).join(", ")
      : word("pop.keyed_nothing");
    return el("div", { class: "summary" },
      el("p", { class: `why why-${pop.why.code}`, "data-role": "why" }, pop.why.text,
        pop.why.detail ? el("span", { class: "why-detail" }, ` (${pop.why.detail})`) : null),
      el("h2", { class: "caller-name", "data-role": "caller-name" }, caller.name),
      el("dl", { class: "caller-facts" },
        facts.map(([label, value]) => [el("dt", {}, label), el("dd", {}, value)])),
      el("p", { class: "keyed", "data-role": "keyed" },
        el("strong", {}, `${word("pop.keyed")}: `), keyed),
      pop.marks.length
        ? el("ul", { class: "marks", "data-role": "marks" },
          pop.marks.map((m) => el("li", { class: `mark mark-${m.kind}` }, m.text)))
        : null,
    );
  }

  function candidates(pop, card) {
    if (!pop.candidates.length) return null;
    return el("section", { class: "candidates", "data-role": "candidates" },
      el("h3", {}, word("pop.candidates")),
      el("p", { class: "hint" }, word("pop.candidates_hint")),
      el("ul", {}, pop.candidates.map((c) => el("li", {},
        el("span", {}, `${c.name} · ${c.account} · ${c.class} `),
        button(word("pop.pick"), () => act(card, pop, "customer", { customer_id: c.id }))))));
  }

  function tickets(pop) {
    const items = pop.tickets.map((t) => el("li", { class: t.overdue ? "ticket overdue" : "ticket", "data-role": "ticket" },
      el("div", { class: "ticket-head" },
        el("strong", {}, t.id), " ", el("span", { class: "subject" }, t.subject), " ",
        el("span", { class: `status status-${t.status}` }, t.status_text),
        t.of_this_call ? el("span", { class: "tag" }, word("pop.ticket_of_call")) : null,
        t.overdue ? el("span", { class: "tag overdue-tag", "data-role": "overdue" }, word("pop.overdue")) : null),
      t.owner ? el("div", {}, `${word("pop.owner")}: ${t.owner}`) : null,
      t.last_faults ? el("div", {}, `${word("pop.faults")}: ${t.last_faults}`) : null,
      t.promised_by ? el("div", {}, `${word("pop.promised_by")}: ${when(t.promised_by, pop.language)}`) : null,
      // A link into the ticket system (checked to be http(s) by the router, and again here).
      /^https?:\/\//.test(t.link || "") ? el("a", { href: t.link, target: "_blank", rel: "noopener noreferrer", "data-role": "ticket-link" }, word("pop.open_ticket_link")) : null));
    // A ticket system that did not answer in time is said so, never waited for.
    const empty = pop.tickets_unavailable
      ? el("p", { class: "none unavailable", "data-role": "tickets-unavailable" }, word("pop.tickets_unavailable"))
      : el("p", { class: "none" }, word("pop.no_tickets"));
    return el("section", { class: "tickets" }, el("h3", {}, word("pop.tickets")),
      items.length ? el("ul", {}, items) : empty);
  }

  function notesList(notes) {
    return el("ul", { class: "notes" }, notes.map((n) =>
      el("li", { "data-role": "note" }, n.by ? el("span", { class: "by" }, `${n.by}: `) : null, n.text)));
  }

  function history(pop) {
    const items = pop.history.map((h) => el("li", { class: "past", "data-role": "past-call" },
      el("div", {}, el("strong", {}, when(h.when, pop.language)), ` · ${h.ago} · ${h.agents || "—"} · ${h.talk}`,
        h.hangup ? ` · ${h.hangup}` : ""),
      h.notes.length ? notesList(h.notes) : null));
    return el("section", { class: "history" }, el("h3", {}, word("pop.history")),
      items.length ? el("ul", {}, items) : el("p", { class: "none" }, word("pop.no_history")));
  }

  function button(label, onClick, attrs) {
    const node = el("button", Object.assign({ type: "button" }, attrs || {}), label);
    node.addEventListener("click", onClick);
    return node;
  }

  function form(card, className, fields, label, toBody, action) {
    const node = el("form", { class: `action ${className}` }, fields, el("button", { type: "submit" }, label));
    node.addEventListener("submit", (event) => {
      event.preventDefault();
      act(card, null, action, toBody(node));
    });
    return node;
  }

  function actions(pop, card) {
    const reasons = el("select", { name: "reason" },
      pop.abuse_reasons.map((r) => el("option", { value: r.code }, r.text)));
    return el("aside", { class: "actions" },
      el("h3", {}, word("action.note")),
      pop.notes.length ? notesList(pop.notes) : null,
      form(card, "note", el("textarea", { name: "text", rows: 3, maxlength: 4000, placeholder: word("action.note_placeholder"), required: true }),
        word("action.save_note"), (f) => ({ text: f.elements.text.value }), "note"),
      el("h3", {}, word("action.ticket")),
      form(card, "link", el("input", { name: "ticket", placeholder: word("action.link_placeholder"), required: true }),
        word("action.link"), (f) => ({ ticket: f.elements.ticket.value }), "link-ticket"),
      form(card, "open", el("input", { name: "subject", placeholder: word("action.subject_placeholder"), required: true, maxlength: 200 }),
        word("action.open_ticket"), (f) => ({ subject: f.elements.subject.value }), "open-ticket"),
      el("div", { class: "row" }, button(word("action.resolve"), () => act(card, null, "resolve", {}))),
      form(card, "promise", el("label", { class: "field" }, word("action.promise"),
        el("input", { name: "by", type: "datetime-local", required: true })),
        word("action.save_promise"), (f) => ({ by: new Date(f.elements.by.value).toISOString() }), "promise"),
      el("h3", {}, word("pop.marks")),
      el("div", { class: "row" }, button(word("action.do_not_pair"), () => act(card, null, "do-not-pair", {}), { class: "warn" })),
      form(card, "abuse", [el("label", {}, `${word("action.abuse_reason")} `, reasons)],
        word("action.abuse"), (f) => ({ reason: f.elements.reason.value }), "abuse"),
      form(card, "warn", el("input", { name: "note", placeholder: word("action.warn_note"), maxlength: 500 }),
        word("action.warn"), (f) => ({ note: f.elements.note.value }), "warn"),
      form(card, "propose-block", el("input", { name: "reason", placeholder: word("action.block_reason"), required: true, maxlength: 200 }),
        word("action.propose_block"), (f) => ({ reason: f.elements.reason.value }), "propose-block"),
      el("p", { class: "action-status", "data-role": "action-status", role: "status" }));
  }

  async function act(card, _pop, action, body) {
    const status = card.querySelector('[data-role="action-status"]');
    try {
      const answer = await postJson(`/api/calls/${encodeURIComponent(card.dataset.callId)}/${action}`, body);
      const pending = ["do-not-pair", "abuse", "propose-block"].includes(action);
      const next = render(answer.pop);
      card.replaceWith(next);
      next.querySelector('[data-role="action-status"]').textContent =
        word(pending ? "action.pending_review" : "action.saved");
    } catch (error) {
      status.textContent = word("action.failed").replace("{message}", error.message);
      status.classList.add("failed");
    }
  }

  function render(pop) {
    const card = el("article", { class: pop.ended ? "pop ended" : "pop", "data-call-id": pop.call_id });
    card.append(
      el("div", { class: "pop-main" },
        el("header", { class: "pop-title" }, word("pop.title"), " · ", when(pop.rang_at, pop.language),
          pop.ended ? el("span", { class: "tag" }, word("pop.ended")) : null),
        summary(pop), candidates(pop, card), tickets(pop), history(pop)),
      actions(pop, card));
    card.dataset.shownAt = String(performance.timeOrigin + performance.now());
    return card;
  }

  window.stickyPop = {
    show(pop) {
      const waiting = document.getElementById("waiting");
      if (waiting) waiting.hidden = true;
      const card = render(pop);
      const existing = [...document.querySelectorAll("article.pop")].find((c) => c.dataset.callId === pop.call_id);
      if (existing) existing.replaceWith(card);
      else document.getElementById("pops").prepend(card);
      document.querySelectorAll("article.pop").forEach((c, i) => c.classList.toggle("older", i > 0));
    },
  };
})();
