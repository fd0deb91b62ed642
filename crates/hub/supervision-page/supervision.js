// Sign-in (the admin console's), the hub connection (/ws/supervisor), and
// the board: each service's line with today's figures, each agent's state.
// Everything is pushed by the hub; the page only counts the seconds of the
// waits shown between two messages.

const PROTOCOL = 2;

const state = { me: null, ws: null, lines: new Map(), agents: new Map(), today: null, skew: 0, tick: null };

const $ = id => document.getElementById(id);

/// An element with attributes and children (strings become text: never HTML).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function notice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function showLogin(message) {
  state.me = null;
  if (state.ws) state.ws.close();
  clearInterval(state.tick);
  for (const id of ["who", "lines", "agents"]) $(id).hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-user").focus();
}

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  let response;
  try {
    response = await fetch("/api/admin/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ login: $("login-user").value, password: $("login-password").value }),
    });
  } catch (_) {
    $("login-error").textContent = t("login.error");
    return;
  }
  if (response.status === 429) return void ($("login-error").textContent = t("login.throttled"));
  if (!response.ok) return void ($("login-error").textContent = t("login.failed"));
  $("login-password").value = "";
  signedIn(await response.json());
}

function signedIn(me) {
  if (!["admin", "supervisor"].includes(me.role)) return showLogin(t("login.role"));
  state.me = me;
  $("login").hidden = true;
  $("who").hidden = false;
  $("who-name").textContent = me.display_name;
  connect();
}

function connect() {
  const ws = new WebSocket(`wss://${location.host}/ws/supervisor`);
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: PROTOCOL }));
  ws.onmessage = (event) => received(JSON.parse(event.data));
  ws.onclose = async () => {
    if (state.ws !== ws || !state.me) return;
    const me = await fetch("/api/admin/me", { credentials: "same-origin" }).catch(() => null);
    if (me && me.status === 401) return showLogin();
    notice(t("link.lost"));
    setTimeout(() => { if (state.ws === ws && state.me) connect(); }, 3000);
  };
}

function received(msg) {
  switch (msg.type) {
    case "welcome":
      notice("");
      $("lines").hidden = false;
      $("agents").hidden = false;
      break;
    case "board":
      state.skew = Date.parse(msg.now) - Date.now();
      state.lines = new Map(msg.services.map(l => [l.service, l]));
      state.agents = new Map(msg.agents.map(a => [a.login, a]));
      clearInterval(state.tick);
      // Waits grow by the second without a message.
      state.tick = setInterval(render, 1000);
      render();
      break;
    case "line":
      state.lines.set(msg.line.service, msg.line);
      render();
      break;
    case "agent":
      state.agents.set(msg.agent.login, msg.agent);
      render();
      break;
    case "agent_gone":
      state.agents.delete(msg.login);
      render();
      break;
    case "today":
      state.today = msg.today;
      render();
      break;
    case "error":
      notice(msg.message);
      break;
  }
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("duration.s", { s });
  if (s < 3600) return t("duration.m", { m: Math.floor(s / 60), s: s % 60 });
  return t("duration.h", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

function since(at) {
  return (Date.now() + state.skew - Date.parse(at)) / 1000;
}

function clock(at) {
  return new Date(at).toLocaleTimeString(lang === "en" ? "en-GB" : "fr-FR", { hour: "2-digit", minute: "2-digit" });
}

function serviceName(id) {
  const line = state.lines.get(id);
  return line ? line.name : id;
}

function render() {
  const days = new Map(((state.today && state.today.services) || []).map(d => [d.service, d]));
  const calls = new Map(((state.today && state.today.agents) || []).map(a => [a.login, a.calls]));
  const none = t("lines.none");
  $("today-date").textContent = state.today
    ? t("today.date", { date: new Date(`${state.today.date}T12:00:00`).toLocaleDateString(lang === "en" ? "en-GB" : "fr-FR") })
    : t("today.waiting");
  $("line-rows").replaceChildren(...[...state.lines.values()].map(line => {
    const day = days.get(line.service);
    return el("tr", { "data-testid": `line-${line.service}` },
      el("th", { scope: "row" }, line.name),
      el("td", { class: "num", "data-testid": "waiting" }, String(line.waiting)),
      el("td", { class: "num", "data-testid": "longest" }, line.oldest_queued_at ? duration(since(line.oldest_queued_at)) : none),
      el("td", { class: "num", "data-testid": "median" }, day && day.median_wait_seconds !== undefined ? duration(day.median_wait_seconds) : none),
      el("td", { class: "num", "data-testid": "answered" }, String(day ? day.answered : 0)),
      el("td", { class: "num", "data-testid": "abandoned" }, String(day ? day.abandoned : 0)),
      el("td", { class: "num", "data-testid": "happy" }, String(day ? day.happy : 0)),
      el("td", { class: "num", "data-testid": "neutral" }, String(day ? day.neutral : 0)),
      el("td", { class: "num", "data-testid": "unhappy" }, String(day ? day.unhappy : 0)));
  }));
  const agents = [...state.agents.values()].sort((a, b) => a.display_name.localeCompare(b.display_name));
  $("agent-rows").replaceChildren(...agents.map(agent => el("tr", { "data-testid": `agent-${agent.login}` },
    el("th", { scope: "row" }, agent.display_name),
    el("td", { "data-testid": "state" },
      el("span", { class: `state ${agent.state}` }, t(`state.${agent.state}`, { service: agent.service ? serviceName(agent.service) : "" }))),
    el("td", { "data-testid": "since" }, `${clock(agent.since)} (${duration(since(agent.since))})`),
    el("td", { class: "num", "data-testid": "calls" }, String(calls.get(agent.login) || 0)))));
  $("agents-empty").hidden = agents.length > 0;
}

async function start() {
  applyWords();
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      localStorage.setItem("visio-supervision-lang", lang);
      applyWords();
      render();
    });
  }
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", async () => {
    await fetch("/api/admin/logout", { method: "POST", credentials: "same-origin" }).catch(() => null);
    showLogin();
  });
  const me = await fetch("/api/admin/me", { credentials: "same-origin" }).catch(() => null);
  if (me && me.ok) signedIn(await me.json());
  else showLogin();
}

start();
