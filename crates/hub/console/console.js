// The agent's steps at sign-in and sign-out (the sign-in itself is the
// shared frame's, /common/page.js), the hub connection (docs/protocol.md
// over one WebSocket, the console's own: resume tokens, another window,
// availability), the queue, availability and arrival alerts, keyboard
// shortcuts.

const state = {
  ws: null,
  connected: false, // the hub's welcome arrived on the current WebSocket
  me: null,
  available: false,
  asking: false, // take_next sent, no answer yet
  queues: [],
  hubSkewMs: 0, // hub clock minus ours, from "queues.now"
  call: null, // see startCall in call.js
  reconnectDelay: 1000,
  replaced: false, // another window of this agent took over: stop reconnecting
  seen: new Set(), // sessions already announced, so a queue update alerts once
  alerts: [], // what the page did for each arrival (the tests read it)
};

// The call's resume token lives in this tab's sessionStorage, so a reload
// (or a dropped WebSocket) finds the call again; another tab does not.
const RESUME_KEY = "visio.resume";
const Resume = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(RESUME_KEY));
    } catch {
      return null;
    }
  },
  set(session, token) {
    if (token) sessionStorage.setItem(RESUME_KEY, JSON.stringify({ session, token }));
  },
  clear(session) {
    const held = this.get();
    if (!session || !held || held.session === session) sessionStorage.removeItem(RESUME_KEY);
  },
};

// "Available on sign-in" is a preference of each agent, kept in this
// browser (the hub has no place for it), on unless the agent unticked it.
const AutoAvailable = {
  key: () => `visio.available-on-sign-in.${state.me ? state.me.login : ""}`,
  get() {
    return localStorage.getItem(this.key()) !== "no";
  },
  set(on) {
    localStorage.setItem(this.key(), on ? "yes" : "no");
  },
};

// ---------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------

/// After the shared sign-in (or a session found at load): the desk and
/// the hub connection.
function agentSignedIn(me) {
  state.me = me;
  $("desk").hidden = false;
  Notes.load();
  connectHub();
}

/// The sign-out button, before the hub forgets the session: nothing of
/// the agent stays in the tab (the call, its resume token, the notes).
function agentSigningOut() {
  endCallLocally();
  Resume.clear();
  Notes.forget();
  const ws = state.ws;
  state.ws = null;
  if (ws) ws.close();
}

/// The sign-in shows: after a sign-out the page starts afresh (at load
/// without a session there is nothing to start again).
function agentSignedOut() {
  if (state.me) location.reload();
}

// ---------------------------------------------------------------------------
// Hub connection
// ---------------------------------------------------------------------------

function connectHub() {
  const ws = new WebSocket(`wss://${location.host}/ws/agent`);
  state.ws = ws;
  // Availability is the hub's to confirm: a change before its welcome
  // would be lost, and the welcome would undo the tick.
  $("available").disabled = true;
  ws.onopen = () => {
    state.reconnectDelay = 1000;
    banner(null);
    const held = Resume.get();
    const hello = { type: "hello", protocol: PROTOCOL };
    if (held) hello.resume = held.token;
    send(hello);
  };
  ws.onmessage = (event) => {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    onHubMessage(msg);
  };
  ws.onclose = () => {
    if (state.ws !== ws || state.replaced) return; // signed out, or another window took over
    state.connected = false;
    $("available").disabled = true;
    updateTakeNext();
    banner(t(state.call ? "hub.lost-call" : "hub.lost"), 0, "error");
    // 1, 2, 4… s up to 30 s, with jitter so a restarted hub is not hit by
    // every console at the same instant.
    const delay = state.reconnectDelay * (0.75 + Math.random() * 0.5);
    setTimeout(connectHub, delay);
    state.reconnectDelay = Math.min(state.reconnectDelay * 2, 30000);
  };
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function onHubMessage(msg) {
  switch (msg.type) {
    case "welcome":
      state.connected = true;
      state.welcome = msg;
      setAvailable(msg.available);
      $("available").disabled = false;
      renderServices();
      Transfer.render();
      Guest.render();
      Day.load();
      if (!msg.available && AutoAvailable.get()) send({ type: "set_availability", available: true });
      break;
    case "queues":
      state.queues = msg.queues;
      state.hubSkewMs = Date.parse(msg.now) - Date.now();
      renderQueue();
      Alerts.check();
      break;
    case "availability":
      setAvailable(msg.available);
      break;
    case "queue_empty":
      state.asking = false;
      banner(t("hub.queue-empty"), 4000);
      updateTakeNext();
      break;
    case "call_started":
      state.asking = false;
      Resume.set(msg.session, msg.resume_token);
      startCall(msg, false);
      break;
    case "call_resumed":
      resumeCall(msg);
      break;
    case "kiosk_devices":
      kioskDevices(msg.session, msg.devices);
      break;
    case "peer_away":
      if (state.call && state.call.session === msg.session) peerAway(true);
      break;
    case "peer_back":
      if (state.call && state.call.session === msg.session) peerAway(false);
      break;
    case "signal":
      onSignal(msg.session, msg.signal);
      break;
    case "call_ended":
      Resume.clear(msg.session);
      if (state.call && state.call.session === msg.session) {
        endCallLocally();
        Transfer.reset();
        Day.load();
        banner(t(`end.${msg.reason}`) === `end.${msg.reason}` ? t("end.agent_hung_up") : t(`end.${msg.reason}`), 6000);
      }
      break;
    case "invited":
      Guest.invited(msg);
      break;
    case "guest_joined":
      Guest.joined(msg);
      break;
    case "guest_signal":
      Guest.signal(msg);
      break;
    case "guest_left":
      Guest.left(msg);
      break;
    case "error":
      state.asking = false;
      updateTakeNext();
      if (Transfer.refused()) break;
      if (msg.code === "replaced") {
        state.replaced = true;
        banner(t("hub.replaced"), 0, "error");
        break;
      }
      banner(hubErrorText(msg.code), 8000, "error");
      break;
  }
}

/// The hub's error codes (crates/protocol ErrorCode) in the agent's words;
/// the English sentence it sends is for logs, not for agents.
function hubErrorText(code) {
  const key = `err.${code}`;
  return t(key) === key ? t("err.other", { code }) : t(key);
}

function setAvailable(on) {
  state.available = on;
  $("available").checked = on;
  updateTakeNext();
  Alerts.check();
}

$("available").addEventListener("change", (event) => {
  AutoAvailable.set(event.target.checked);
  send({ type: "set_availability", available: event.target.checked });
});

function takeNext() {
  if ($("take-next").disabled) return;
  state.asking = true;
  updateTakeNext();
  send({ type: "take_next" });
}
$("take-next").addEventListener("click", takeNext);

function waitingCount() {
  return state.queues.reduce((n, q) => n + q.waiting.length, 0);
}

/// Enables "Prendre le suivant" and says in words why it cannot be pressed.
function updateTakeNext() {
  const waiting = waitingCount();
  let why = null;
  if (!state.connected) why = "why.offline";
  else if (state.call) why = "why.in-call";
  else if (state.asking) why = "why.asking";
  else if (!state.available) why = "why.unavailable";
  else if (waiting === 0) why = "why.nobody";
  $("take-next").disabled = why !== null;
  $("take-next-why").textContent = why ? t(why) : t("why.ready", { n: waiting });
  $("take-next-why").dataset.reason = why ? why.slice(4) : "ready";
  Alerts.title();
}

function renderServices() {
  const services = (state.welcome ? state.welcome.services : [])
    .map((s) => `${s.service}${s.open ? "" : ` (${t("queue.closed")})`}`)
    .join(", ");
  $("services").textContent = t("queue.services", { list: services });
}

function renderQueue() {
  const list = $("queue-list");
  list.replaceChildren();
  const now = Date.now() + state.hubSkewMs;
  let count = 0;
  for (const queue of state.queues) {
    for (const resident of queue.waiting) {
      count++;
      const item = document.createElement("li");
      item.dataset.testid = "queue-item";
      item.dataset.session = resident.session;
      const left = document.createElement("span");
      const service = document.createElement("span");
      service.className = "service";
      service.textContent = queue.service.toUpperCase();
      left.append(service, " · ", resident.site);
      if (resident.transferred_from) {
        const from = document.createElement("span");
        from.className = "transferred";
        from.dataset.testid = "queue-transferred";
        from.textContent = ` · ${t("transfer.from", { service: resident.transferred_from.toUpperCase() })}`;
        left.append(from);
      }
      if (resident.appointment) {
        const booked = document.createElement("span");
        booked.className = "appointment";
        booked.dataset.testid = "queue-appointment";
        booked.textContent = ` · ${t("queue.appointment", { reference: resident.appointment })}`;
        left.append(booked);
      }
      const waited = document.createElement("span");
      waited.className = "waited";
      waited.dataset.since = resident.queued_at;
      waited.textContent = formatWaited(now - Date.parse(resident.queued_at));
      item.append(left, waited);
      list.append(item);
    }
  }
  $("queue-empty").hidden = count > 0;
  updateTakeNext();
}

languageHooks.push(() => {
  if (state.welcome) renderServices();
  renderQueue();
  if (state.call) renderCallTexts();
});

setInterval(() => {
  const now = Date.now() + state.hubSkewMs;
  for (const el of document.querySelectorAll(".waited")) {
    el.textContent = formatWaited(now - Date.parse(el.dataset.since));
  }
  if (state.call) $("call-timer").textContent = formatClock(Date.now() - state.call.started);
}, 1000);

function formatWaited(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  return minutes < 1 ? t("queue.just-now") : t("queue.minutes", { n: minutes });
}

function formatClock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/// One line under the header: `kind` "info" (blue-grey) for normal events,
/// "error" (red) only for real failures. 0 or no delay: stays.
function banner(text, hideAfterMs, kind = "info") {
  const el = $("banner");
  el.textContent = text || "";
  el.hidden = !text;
  el.className = `banner ${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  if (text && hideAfterMs) setTimeout(() => { if (el.textContent === text) el.hidden = true; }, hideAfterMs);
}

// ---------------------------------------------------------------------------
// Arrival alerts: a sound, the tab's title, a browser notification.
// ---------------------------------------------------------------------------

const Alerts = {
  audio: null,
  baseTitle: document.title,

  /// Called on the sign-in gesture: unlocks sound and asks for notifications.
  prepare() {
    try {
      this.audio = this.audio || new AudioContext();
      this.audio.resume();
    } catch {
      this.audio = null;
    }
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  },

  /// Announces residents not announced yet, once the agent could take them
  /// (available, not in a call): on a queue update, on becoming available
  /// (someone may wait already at sign-in) and at the end of a call.
  check() {
    if (!state.available || state.call) return;
    const fresh = [];
    for (const queue of state.queues) {
      for (const resident of queue.waiting) {
        if (!state.seen.has(resident.session)) fresh.push({ service: queue.service, ...resident });
        state.seen.add(resident.session);
      }
    }
    if (fresh.length === 0) return;
    const first = fresh[0];
    const alert = { session: first.session, sound: null, notified: this.notify(first), title: null };
    this.title();
    alert.title = document.title;
    this.chime().then((sound) => {
      alert.sound = sound;
      state.alerts.push(alert);
    });
  },

  /// Two short tones from the page itself (no sound file to serve).
  /// Resolves to the audio context's state ("running" when heard).
  async chime() {
    if (!this.audio && typeof AudioContext !== "undefined") {
      try {
        this.audio = new AudioContext();
      } catch {
        return false;
      }
    }
    if (!this.audio) return false;
    const ctx = this.audio;
    if (ctx.state === "suspended") {
      // Browsers that still block sound leave it suspended: do not wait forever.
      await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 500))]);
    }
    for (const [i, freq] of [880, 660].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      gain.gain.value = 0.15;
      osc.frequency.value = freq;
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + i * 0.25);
      osc.stop(ctx.currentTime + i * 0.25 + 0.2);
    }
    return ctx.state;
  },

  notify(resident) {
    if (!("Notification" in window) || Notification.permission !== "granted") return false;
    const n = new Notification(t("alert.notify"), {
      body: t("alert.body", { service: resident.service.toUpperCase(), site: resident.site }),
      tag: "visio-arrival",
    });
    n.onclick = () => {
      window.focus();
      n.close();
    };
    return true;
  },

  /// The tab's title counts the waiting residents while the agent could
  /// take one, so it shows from another tab.
  title() {
    const n = waitingCount();
    document.title = n > 0 && state.available && !state.call ? t("alert.title", { n }) : this.baseTitle;
  },
};

// ---------------------------------------------------------------------------
// Keyboard shortcuts: Alt+Shift+letter, which types nothing, so they work
// while the focus is in the notes too.
// ---------------------------------------------------------------------------

const SHORTCUTS = {
  KeyN: () => takeNext(),
  KeyM: () => $("mute").click(),
  KeyS: () => { if (!$("request-scan").disabled) $("request-scan").click(); },
  KeyF: () => { if (state.call) $("end-call").click(); },
};

document.addEventListener("keydown", (event) => {
  if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey || !state.me) return;
  const code = event.code || `Key${(event.key || "").toUpperCase()}`;
  const action = SHORTCUTS[code];
  if (!action) return;
  event.preventDefault();
  action();
});
