// The board: each service's line with today's figures, each agent's state.
// Everything is pushed by the hub over /ws/supervisor; the page only counts
// the seconds of the waits shown between two messages. Sign-in, header and
// the socket are /common/page.js's.

const state = { lines: new Map(), agents: new Map(), today: null, skew: 0, tick: null };

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

startPage({
  lang: "visio-supervision-lang",
  views: ["lines", "agents"],
  roles: ["admin", "supervisor"],
  signedOut: () => clearInterval(state.tick),
  language: render,
  socket: { path: "/ws/supervisor", received },
});
