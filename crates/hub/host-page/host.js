// The board of the site's kiosks, and the alerts: sound, browser
// notification, tab title, until a host acknowledges. Sign-in, header and
// the socket (/ws/host) are /common/page.js's.

const ALERT_ORDER = ["help", "link", "speaker", "camera", "microphone", "printer", "scanner"];
/// An alert nobody acknowledged rings again this often.
const RING_AGAIN_MS = 30000;

const state = { kiosks: new Map(), seen: new Set(), audio: null, baseTitle: document.title, ring: null };
/// What each new alert did (for tests and for a person debugging): the
/// sound's audio state, whether a notification was shown, the tab title.
window.hostAlerts = [];

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
  if (page.ws && page.ws.readyState === WebSocket.OPEN) {
    page.ws.send(JSON.stringify({ type: "acknowledge", kiosk_id: kiosk.kiosk_id, alert: alert.kind }));
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

startPage({
  lang: "visio-host-lang",
  views: ["alerts", "kiosks"],
  roles: ["host", "admin", "supervisor"],
  gesture: prepareAlerts,
  language: render,
  socket: {
    path: "/ws/host",
    received,
    // A host account without a site has no board: say so.
    refused: me => (me.role === "host" && me.sites.length === 0 ? t("login.no-site") : null),
  },
});
