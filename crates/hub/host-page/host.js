// Sign-in (the admin console's), the hub connection (/ws/host), the board
// of the site's kiosks, and the alerts: sound, browser notification, tab
// title, until a host acknowledges.

const PROTOCOL = 2;
const ALERT_ORDER = ["help", "link", "speaker", "camera", "microphone", "printer", "scanner"];
/// An alert nobody acknowledged rings again this often.
const RING_AGAIN_MS = 30000;

const state = { me: null, ws: null, kiosks: new Map(), seen: new Set(), audio: null, baseTitle: document.title, ring: null };
/// What each new alert did (for tests and for a person debugging): the
/// sound's audio state, whether a notification was shown, the tab title.
window.hostAlerts = [];

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
  for (const id of ["who", "alerts", "kiosks"]) $(id).hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-user").focus();
}

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  prepareAlerts();
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
  if (!["host", "admin", "supervisor"].includes(me.role)) return showLogin(t("login.role"));
  state.me = me;
  $("login").hidden = true;
  $("who").hidden = false;
  $("who-name").textContent = me.display_name;
  connect();
}

function connect() {
  const ws = new WebSocket(`wss://${location.host}/ws/host`);
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: PROTOCOL }));
  ws.onmessage = (event) => received(JSON.parse(event.data));
  ws.onclose = async () => {
    if (state.ws !== ws || !state.me) return;
    // Signed out elsewhere, or a host account without a site: say so.
    const me = await fetch("/api/admin/me", { credentials: "same-origin" }).catch(() => null);
    if (me && me.status === 401) return showLogin();
    if (me && me.ok && state.me.role === "host" && (await me.json()).sites.length === 0) return showLogin(t("login.no-site"));
    notice(t("link.lost"));
    setTimeout(() => { if (state.ws === ws && state.me) connect(); }, 3000);
  };
}

function received(msg) {
  switch (msg.type) {
    case "welcome":
      notice("");
      $("alerts").hidden = false;
      $("kiosks").hidden = false;
      break;
    case "board":
      state.kiosks = new Map(msg.kiosks.map(k => [k.kiosk_id, k]));
      render();
      break;
    case "kiosk":
      state.kiosks.set(msg.kiosk.kiosk_id, msg.kiosk);
      render();
      break;
    case "error":
      notice(msg.code === "forbidden" ? t("error.forbidden") : msg.message);
      break;
  }
}

function acknowledge(kiosk, alert) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify({ type: "acknowledge", kiosk_id: kiosk.kiosk_id, alert: alert.kind }));
  }
}

function clock(at) {
  return new Date(at).toLocaleTimeString(lang === "en" ? "en-GB" : "fr-FR", { hour: "2-digit", minute: "2-digit" });
}

function screenName(screen) {
  if (!screen) return t("kiosks.unknown");
  const key = `screen.${screen}`;
  return t(key) === key ? screen : t(key);
}

/// Every alert of every kiosk: those nobody took care of first, help first.
function allAlerts() {
  const list = [];
  for (const kiosk of state.kiosks.values()) for (const alert of kiosk.alerts) list.push({ kiosk, alert });
  const rank = ({ alert }) => [alert.acknowledged_by ? 1 : 0, ALERT_ORDER.indexOf(alert.kind), alert.since];
  return list.sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : 1);
  });
}

function render() {
  const alerts = allAlerts();
  $("alert-list").replaceChildren(...alerts.map(({ kiosk, alert }) => alertCard(kiosk, alert)));
  $("alerts-none").hidden = alerts.length > 0;
  const kiosks = [...state.kiosks.values()].sort((a, b) => a.kiosk_id.localeCompare(b.kiosk_id));
  $("kiosk-rows").replaceChildren(...kiosks.map(kioskRow));
  $("kiosks-empty").hidden = kiosks.length > 0;
  announce(alerts);
}

/// A device fault in the page's language when the kiosk gave its code;
/// the device's own words otherwise.
function faultText(alert) {
  const key = `fault.${alert.kind}.${alert.code}`;
  return alert.code && t(key) !== key ? t(key) : alert.detail;
}

function alertCard(kiosk, alert) {
  const done = Boolean(alert.acknowledged_by);
  const what = el("div", { class: "what" },
    el("strong", {}, `${t(`kind.${alert.kind}`)} — ${kiosk.kiosk_id}`),
    el("span", {}, `${kiosk.site} · ${t("alerts.since", { time: clock(alert.since) })}`),
    faultText(alert) ? el("span", { "data-testid": "alert-detail" }, faultText(alert)) : null,
    kiosk.online && kiosk.screen ? el("span", { "data-testid": "alert-screen" }, t("alerts.screen", { screen: screenName(kiosk.screen) })) : null,
    done ? el("span", { "data-testid": "alert-by" }, t("alerts.by", { name: alert.acknowledged_by })) : null);
  const label = alert.kind === "help" ? t("alerts.go") : t("alerts.seen");
  const button = done ? null : el("button", {
    type: "button",
    "data-testid": `ack-${kiosk.kiosk_id}-${alert.kind}`,
    "aria-label": `${label} : ${t(`kind.${alert.kind}`)}, ${kiosk.kiosk_id}`,
    onclick: () => acknowledge(kiosk, alert),
  }, label);
  return el("div", { class: done ? "alert acknowledged" : "alert", "data-testid": `alert-${kiosk.kiosk_id}-${alert.kind}` }, what, button);
}

function kioskRow(kiosk) {
  const failing = kiosk.devices
    ? Object.entries(kiosk.devices).filter(([, s]) => s.state === "missing" || s.state === "error").map(([d]) => t(`device.${d}`))
    : null;
  const devices = failing === null ? t("kiosks.no-report") : failing.length ? failing.join(", ") : t("kiosks.all-ok");
  return el("tr", { "data-testid": `kiosk-${kiosk.kiosk_id}` },
    el("th", { scope: "row" }, kiosk.kiosk_id, el("br"), el("span", { class: "muted" }, kiosk.site)),
    el("td", { class: kiosk.online ? "ok" : "bad" }, kiosk.online ? t("kiosks.online") : t("kiosks.offline")),
    el("td", {}, kiosk.online ? screenName(kiosk.screen) : t("kiosks.unknown")),
    el("td", { class: failing && failing.length ? "bad" : "" }, devices));
}

/// Sound, notification and tab title for alerts not announced yet; the
/// title counts those nobody took care of.
function announce(alerts) {
  const open = alerts.filter(({ alert }) => !alert.acknowledged_by);
  document.title = open.length ? t("alerts.page-title", { n: open.length }) : state.baseTitle;
  for (const { kiosk, alert } of open) {
    const key = `${kiosk.kiosk_id}/${alert.kind}/${alert.since}`;
    if (state.seen.has(key)) continue;
    state.seen.add(key);
    const what = `${t(`kind.${alert.kind}`)} — ${kiosk.kiosk_id}`;
    const record = { kiosk: kiosk.kiosk_id, kind: alert.kind, sound: null, notified: notify(what), title: document.title };
    chime().then((sound) => { record.sound = sound; window.hostAlerts.push(record); });
  }
  clearInterval(state.ring);
  if (open.length) state.ring = setInterval(chime, RING_AGAIN_MS);
}

/// Called on the sign-in gesture: unlocks sound and asks for notifications.
function prepareAlerts() {
  try {
    state.audio = state.audio || new AudioContext();
    state.audio.resume();
  } catch (_) {
    state.audio = null;
  }
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
}

/// Three rising tones from the page itself (no sound file to serve).
/// Resolves to the audio context's state ("running" when heard).
async function chime() {
  if (!state.audio && typeof AudioContext !== "undefined") {
    try { state.audio = new AudioContext(); } catch (_) { return false; }
  }
  if (!state.audio) return false;
  const ctx = state.audio;
  if (ctx.state === "suspended") await Promise.race([ctx.resume(), new Promise(r => setTimeout(r, 500))]);
  for (const [i, freq] of [660, 880, 990].entries()) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    gain.gain.value = 0.2;
    osc.frequency.value = freq;
    osc.connect(gain).connect(ctx.destination);
    osc.start(ctx.currentTime + i * 0.25);
    osc.stop(ctx.currentTime + i * 0.25 + 0.2);
  }
  return ctx.state;
}

function notify(what) {
  if (!("Notification" in window) || Notification.permission !== "granted") return false;
  const n = new Notification(t("alerts.notify", { what }), { tag: what });
  n.onclick = () => { window.focus(); n.close(); };
  return true;
}

async function start() {
  applyWords();
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      localStorage.setItem("visio-host-lang", lang);
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
