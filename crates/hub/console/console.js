// Visio-Public agent console. Plain JavaScript, no build step, no inline
// code (the hub's Content-Security-Policy forbids it). Speaks the hub
// protocol of docs/protocol.md over one WebSocket, answers the kiosk's
// WebRTC offer, and drives documents over the call's data channel.
"use strict";

const PROTOCOL = 1;
const $ = (id) => document.getElementById(id);

const state = {
  ws: null,
  me: null,
  available: false,
  queues: [],
  hubSkewMs: 0, // hub clock minus ours, from "queues.now"
  call: null, // { session, service, site, pc, local, started, pendingCandidates, remoteSet, statsTimer }
  reconnectDelay: 1000,
  replaced: false, // another window of this agent took over: stop reconnecting
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

// ---------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------

async function boot() {
  const response = await fetch("/api/agent/me", { credentials: "same-origin" });
  if (response.ok) {
    signedIn(await response.json());
  } else {
    show("login");
  }
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const response = await fetch("/api/agent/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ login: $("login-user").value, password: $("login-password").value }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    $("login-error").textContent = body.error || `Connexion refusée (${response.status})`;
    return;
  }
  $("login-password").value = "";
  signedIn(body);
});

$("logout").addEventListener("click", async () => {
  endCallLocally();
  Resume.clear();
  if (state.ws) state.ws.close();
  state.ws = null;
  await fetch("/api/agent/logout", { method: "POST", credentials: "same-origin" });
  location.reload();
});

function signedIn(me) {
  state.me = me;
  $("agent-name").textContent = me.display_name;
  $("who").hidden = false;
  show("desk");
  connect();
}

function show(section) {
  $("login").hidden = section !== "login";
  $("desk").hidden = section !== "desk";
}

// ---------------------------------------------------------------------------
// Hub connection
// ---------------------------------------------------------------------------

function connect() {
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
    $("available").disabled = true;
    banner(
      state.call
        ? "Connexion au service perdue ; l'appel continue, reconnexion…"
        : "Connexion au hub perdue, reconnexion…"
    );
    // 1, 2, 4… s up to 30 s, with jitter so a restarted hub is not hit by
    // every console at the same instant.
    const delay = state.reconnectDelay * (0.75 + Math.random() * 0.5);
    setTimeout(connect, delay);
    state.reconnectDelay = Math.min(state.reconnectDelay * 2, 30000);
  };
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function onHubMessage(msg) {
  switch (msg.type) {
    case "welcome":
      state.available = msg.available;
      $("available").checked = msg.available;
      $("available").disabled = false;
      $("services").textContent =
        "Vos services : " + msg.services.map((s) => `${s.service}${s.open ? "" : " (fermé)"}`).join(", ");
      updateTakeNext();
      break;
    case "queues":
      state.queues = msg.queues;
      state.hubSkewMs = Date.parse(msg.now) - Date.now();
      renderQueue();
      break;
    case "availability":
      state.available = msg.available;
      $("available").checked = msg.available;
      updateTakeNext();
      break;
    case "queue_empty":
      banner("Personne n'attend pour le moment.", 4000);
      break;
    case "call_started":
      Resume.set(msg.session, msg.resume_token);
      startCall(msg);
      break;
    case "call_resumed":
      resumeCall(msg);
      break;
    case "peer_away":
      if (state.call && state.call.session === msg.session) peerStatus(true);
      break;
    case "peer_back":
      if (state.call && state.call.session === msg.session) peerStatus(false);
      break;
    case "signal":
      onSignal(msg.session, msg.signal);
      break;
    case "call_ended":
      Resume.clear(msg.session);
      if (state.call && state.call.session === msg.session) {
        endCallLocally();
        banner(endReasonText(msg.reason), 6000);
      }
      break;
    case "error":
      if (msg.code === "replaced") {
        state.replaced = true;
        banner("La console est ouverte dans une autre fenêtre ; celle-ci est inactive.");
        break;
      }
      banner(`Le hub a refusé : ${msg.message}`, 8000);
      break;
  }
}

$("available").addEventListener("change", (event) => {
  send({ type: "set_availability", available: event.target.checked });
});

$("take-next").addEventListener("click", () => {
  $("take-next").disabled = true;
  send({ type: "take_next" });
});

function updateTakeNext() {
  const waiting = state.queues.some((q) => q.waiting.length > 0);
  $("take-next").disabled = !(state.available && waiting && !state.call);
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

setInterval(() => {
  const now = Date.now() + state.hubSkewMs;
  for (const el of document.querySelectorAll(".waited")) {
    el.textContent = formatWaited(now - Date.parse(el.dataset.since));
  }
  if (state.call) $("call-timer").textContent = formatClock(Date.now() - state.call.started);
}, 1000);

function formatWaited(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  return minutes < 1 ? "à l'instant" : `${minutes} min`;
}

function formatClock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function endReasonText(reason) {
  return {
    kiosk_hung_up: "L'usager a terminé l'appel.",
    agent_hung_up: "Appel terminé.",
    kiosk_disconnected: "La borne s'est déconnectée.",
    agent_disconnected: "Votre connexion a été perdue.",
    hub_shutdown: "Le hub redémarre.",
  }[reason] || "Appel terminé.";
}

function banner(text, hideAfterMs) {
  const el = $("banner");
  el.textContent = text || "";
  el.hidden = !text;
  if (text && hideAfterMs) setTimeout(() => { if (el.textContent === text) el.hidden = true; }, hideAfterMs);
}

// ---------------------------------------------------------------------------
// The call: the kiosk offers, we answer.
// ---------------------------------------------------------------------------

function startCall(msg) {
  const call = {
    session: msg.session,
    iceServers: msg.ice_servers,
    pc: null,
    local: null,
    started: Date.now(),
    pendingCandidates: [],
    remoteSet: false,
    statsTimer: null,
    muted: false,
    mediaReady: null,
    lastStats: null,
  };
  state.call = call;
  $("call-title").textContent = `${msg.service.toUpperCase()} · ${msg.site}`;
  $("call").hidden = false;
  peerStatus(false);
  updateTakeNext();
  newPeerConnection(call);
  // The answer must carry our tracks: the offer waits for this.
  call.mediaReady = openCameraAndMicrophone(call);
  call.statsTimer = setInterval(() => showQuality(call), 1000);
  return call;
}

/// A fresh peer connection for the call (at the start, or when either
/// side lost its own): our tracks go on it once the camera is open.
function newPeerConnection(call) {
  if (call.pc) call.pc.close();
  const pc = new RTCPeerConnection({ iceServers: call.iceServers });
  call.pc = pc;
  call.pendingCandidates = [];
  call.remoteSet = false;
  call.lastStats = null;
  pc.onicecandidate = (event) => {
    if (call.pc !== pc) return;
    const signal = event.candidate
      ? { kind: "candidate", candidate: event.candidate.toJSON() }
      : { kind: "end_of_candidates" };
    send({ type: "signal", session: call.session, signal });
  };
  pc.ontrack = (event) => {
    const video = $("remote-video");
    if (video.srcObject !== event.streams[0]) video.srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  // A new connection brings a new documents channel: transfers resume on it.
  pc.ondatachannel = (event) => Documents.attach(event.channel);
  if (call.local) for (const track of call.local.getTracks()) pc.addTrack(track, call.local);
}

/// The hub accepted our resume token. With the call still in the page (the
/// WebSocket dropped, media went on) there is nothing to redo. After a
/// reload the page has no peer connection: make one and ask the kiosk for
/// a fresh offer.
function resumeCall(msg) {
  banner(null);
  if (state.call && state.call.session === msg.session) {
    state.call.iceServers = msg.ice_servers;
    peerStatus(false);
    return;
  }
  endCallLocally();
  startCall(msg);
  send({ type: "signal", session: msg.session, signal: { kind: "restart" } });
}

async function openCameraAndMicrophone(call) {
  try {
    call.local = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
    if (state.call !== call) {
      for (const track of call.local.getTracks()) track.stop();
      return;
    }
    $("local-video").srcObject = call.local;
    for (const track of call.local.getTracks()) call.pc.addTrack(track, call.local);
  } catch (error) {
    banner(`Caméra ou micro indisponible : ${error.message}. L'usager ne vous verra pas.`);
  }
}

/// The kiosk lost the hub (or came back): the call's media may go on
/// meanwhile, so the call stays on screen with a notice.
function peerStatus(away) {
  const el = $("peer-status");
  el.hidden = !away;
  el.textContent = away
    ? "La borne a perdu la connexion au service ; l'appel reprendra dès son retour."
    : "";
  if (state.call) state.call.peerAway = away;
}

async function onSignal(session, signal) {
  const call = state.call;
  if (!call || call.session !== session) return;
  try {
    if (signal.kind === "restart") {
      // The kiosk lost its peer connection: ours is useless too; its fresh
      // offer follows.
      newPeerConnection(call);
    } else if (signal.kind === "offer") {
      // A first offer, or a new one on the live connection (an ICE
      // restart after a network cut): answered the same way.
      await call.mediaReady;
      if (state.call !== call) return;
      await call.pc.setRemoteDescription({ type: "offer", sdp: signal.sdp });
      call.remoteSet = true;
      for (const c of call.pendingCandidates.splice(0)) await call.pc.addIceCandidate(c);
      const answer = await call.pc.createAnswer();
      await call.pc.setLocalDescription(answer);
      send({ type: "signal", session, signal: { kind: "answer", sdp: call.pc.localDescription.sdp } });
    } else if (signal.kind === "candidate") {
      // A candidate can arrive before the offer is applied: keep it.
      if (call.remoteSet) await call.pc.addIceCandidate(signal.candidate);
      else call.pendingCandidates.push(signal.candidate);
    }
  } catch (error) {
    banner(`Négociation impossible : ${error.message}`, 8000);
  }
}

$("end-call").addEventListener("click", () => {
  if (!state.call) return;
  send({ type: "hang_up", session: state.call.session });
});

$("mute").addEventListener("click", () => {
  const call = state.call;
  if (!call || !call.local) return;
  call.muted = !call.muted;
  for (const track of call.local.getAudioTracks()) track.enabled = !call.muted;
  $("mute").textContent = call.muted ? "Rétablir le micro" : "Couper le micro";
});

/// Tears the call down in the page: nothing of it stays.
function endCallLocally() {
  const call = state.call;
  if (!call) return;
  clearInterval(call.statsTimer);
  call.pc.close();
  if (call.local) for (const track of call.local.getTracks()) track.stop();
  $("remote-video").srcObject = null;
  $("local-video").srcObject = null;
  Documents.release();
  state.call = null;
  $("call").hidden = true;
  $("peer-status").hidden = true;
  const quality = $("quality");
  quality.textContent = "—";
  quality.className = "quality";
  delete quality.dataset.quality;
  quality.title = "";
  updateTakeNext();
}

/// A plain connection-quality indicator from getStats(), every second:
/// round trip, inbound video packet loss and frame rate over the last
/// second, and video freezes.
async function showQuality(call) {
  if (state.call !== call || !call.pc) return;
  const pc = call.pc;
  const stats = await pc.getStats();
  if (state.call !== call || call.pc !== pc) return;
  let rtt = null;
  let video = null;
  stats.forEach((report) => {
    if (report.type === "candidate-pair" && report.nominated && report.state === "succeeded") {
      if (report.currentRoundTripTime !== undefined) rtt = report.currentRoundTripTime;
    }
    if (report.type === "inbound-rtp" && report.kind === "video") video = report;
  });
  const now = {
    lost: video ? video.packetsLost || 0 : 0,
    received: video ? video.packetsReceived || 0 : 0,
    freezes: video ? video.freezeCount || 0 : 0,
  };
  const last = call.lastStats || now;
  call.lastStats = now;
  const lost = Math.max(0, now.lost - last.lost);
  const received = Math.max(0, now.received - last.received);
  const loss = lost + received > 0 ? lost / (lost + received) : 0;
  const fps = video && video.framesPerSecond !== undefined ? video.framesPerSecond : null;
  const froze = now.freezes > last.freezes;
  const level = qualityLevel({ rtt, loss, fps, froze, receiving: video !== null });
  const el = $("quality");
  el.className = `quality ${level}`;
  el.dataset.quality = level;
  el.textContent = { good: "Bonne connexion", fair: "Connexion moyenne", poor: "Mauvaise connexion" }[level];
  el.title = [
    `aller-retour ${rtt !== null ? Math.round(rtt * 1000) + " ms" : "?"}`,
    `perte vidéo ${(loss * 100).toFixed(1)} %`,
    `${fps !== null ? Math.round(fps) : "?"} images/s`,
    `${now.freezes} gel${now.freezes > 1 ? "s" : ""} de l'image`,
  ].join(" · ");
}

/// Pure: the level for one second of figures. Kiosks send 25–30 frames per
/// second at full quality and halve that on thin links (the media crate's
/// adaptation ladder): a talking head stays readable down to 10; below 5
/// the picture is poor whatever the other figures say.
function qualityLevel({ rtt, loss, fps, froze, receiving }) {
  if ((rtt !== null && rtt > 0.4) || loss > 0.05 || (receiving && fps !== null && fps < 5)) return "poor";
  if ((rtt !== null && rtt > 0.15) || loss > 0.02 || froze || (receiving && fps !== null && fps < 10)) return "fair";
  return "good";
}

// ---------------------------------------------------------------------------
// Documents over the call's data channel (the document-transfer protocol).
// ---------------------------------------------------------------------------

const CHUNK_DATA = 16384 - 12;
const WINDOW = 256 * 1024; // unacknowledged bytes in flight
const HIGH_WATER = 256 * 1024; // channel.bufferedAmount before pausing
const ACK_EVERY = 64 * 1024;

const Documents = {
  channel: null,
  nextId: 1,
  nextReq: 1,
  incoming: new Map(), // scans from the kiosk: id -> transfer
  outgoing: new Map(), // files to the kiosk: id -> transfer
  urls: [],

  attach(channel) {
    if (channel.label !== "visio-documents") return;
    this.channel = channel;
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = 65536;
    channel.onopen = () => this.opened(channel);
    channel.onclose = () => {
      if (this.channel !== channel) return;
      this.enable(false);
      this.status("Canal documents interrompu ; reprise automatique dès son retour.");
    };
    channel.onbufferedamountlow = () => this.pump();
    channel.onmessage = (event) => {
      if (typeof event.data === "string") {
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch {
          return this.sendControl({ type: "error", code: "bad_message", message: "control message is not JSON" });
        }
        this.onControl(msg);
      } else {
        this.onChunk(event.data);
      }
    };
    if (channel.readyState === "open") this.opened(channel);
  },

  opened(channel) {
    if (this.channel !== channel) return;
    this.enable(true);
    this.status("Canal documents ouvert.");
    // Transfers cut by a drop go on from where they stopped.
    for (const [id, t] of this.outgoing) if (!t.delivered) this.sendControl({ type: "resume", id });
  },

  enable(on) {
    $("request-scan").disabled = !on;
    $("send-print").disabled = !on;
    $("send-show").disabled = !on;
  },

  status(text) {
    $("doc-status").textContent = text;
  },

  sendControl(msg) {
    if (this.channel && this.channel.readyState === "open") this.channel.send(JSON.stringify(msg));
  },

  requestScan(color) {
    const req = this.nextReq++;
    this.sendControl({ type: "scan_request", req, color, dpi: color === "color" ? 200 : 150, format: "pdf" });
    this.status("Numérisation demandée : l'usager pose son document sur le scanner.");
  },

  async push(file, purpose) {
    if (!file) return this.status("Choisissez d'abord un fichier.");
    const data = new Uint8Array(await file.arrayBuffer());
    const sha256 = await sha256Hex(data);
    const id = this.nextId++;
    this.outgoing.set(id, { id, name: file.name, size: data.length, data, sha256, purpose, offset: 0, acked: 0, accepted: false, delivered: false });
    this.sendControl({ type: "offer", id, name: file.name, size: data.length, sha256, purpose });
    this.status(`Envoi de « ${file.name} » à la borne…`);
  },

  /// Sends chunks while the window and the channel's buffer allow.
  pump() {
    const channel = this.channel;
    if (!channel || channel.readyState !== "open") return;
    for (const t of this.outgoing.values()) {
      if (!t.accepted || t.offset >= t.size) continue;
      while (t.offset < t.size && t.offset - t.acked < WINDOW && channel.bufferedAmount < HIGH_WATER) {
        const data = t.data.subarray(t.offset, Math.min(t.size, t.offset + CHUNK_DATA));
        const frame = new Uint8Array(12 + data.length);
        const view = new DataView(frame.buffer);
        frame[0] = 1; // version
        frame[1] = 0; // data chunk
        view.setUint32(4, t.id);
        view.setUint32(8, t.offset);
        frame.set(data, 12);
        channel.send(frame);
        t.offset += data.length;
      }
    }
  },

  onControl(msg) {
    const out = this.outgoing.get(msg.id);
    switch (msg.type) {
      case "scan_started":
        this.status("La borne numérise le document…");
        break;
      case "scan_failed":
        this.status(`Numérisation impossible : ${msg.reason}`);
        break;
      case "offer":
        if (msg.purpose !== "scan") {
          this.sendControl({ type: "error", id: msg.id, code: "unexpected", message: "the agent page only receives scans" });
          break;
        }
        this.incoming.set(msg.id, { ...msg, parts: [], held: 0, lastAck: 0, item: this.scanItem(msg) });
        this.sendControl({ type: "accept", id: msg.id, offset: 0 });
        break;
      case "resume": {
        const t = this.incoming.get(msg.id);
        if (t) this.sendControl({ type: "accept", id: msg.id, offset: t.held });
        else this.sendControl({ type: "error", id: msg.id, code: "unknown_transfer", message: "no such transfer" });
        break;
      }
      case "accept":
        if (out) {
          out.accepted = true;
          out.offset = msg.offset;
          out.acked = msg.offset;
          this.pump();
        }
        break;
      case "ack":
        if (out) {
          out.acked = Math.max(out.acked, msg.offset);
          this.status(`Envoi de « ${out.name} » : ${Math.floor((100 * out.acked) / Math.max(1, out.size))} %`);
          this.pump();
        }
        break;
      case "received":
        if (out) {
          out.delivered = true;
          out.data = null;
          this.status(`« ${out.name} » reçu par la borne.`);
        }
        break;
      case "outcome":
        if (out) {
          const text = { printed: "imprimé à la borne", shown: "affiché sur la borne" }[msg.outcome];
          this.status(text ? `« ${out.name} » ${text}.` : `Échec pour « ${out.name} » : ${msg.reason || "raison inconnue"}`);
          this.outgoing.delete(msg.id);
        }
        break;
      case "cancel":
        this.outgoing.delete(msg.id);
        this.incoming.delete(msg.id);
        this.status(`Transfert annulé : ${msg.reason || ""}`);
        break;
      case "error":
        if (msg.id !== undefined) {
          this.outgoing.delete(msg.id);
          this.incoming.delete(msg.id);
        }
        this.status(`Refusé par la borne : ${msg.message}`);
        break;
    }
  },

  onChunk(buffer) {
    if (buffer.byteLength < 13) return;
    const view = new DataView(buffer);
    const id = view.getUint32(4);
    const offset = view.getUint32(8);
    const data = new Uint8Array(buffer, 12);
    const t = this.incoming.get(id);
    if (!t) return this.sendControl({ type: "error", id, code: "unknown_transfer", message: "no such transfer" });
    if (offset + data.length <= t.held) return; // a duplicate after a resume
    if (offset > t.held) {
      return this.sendControl({ type: "error", id, code: "offset_gap", message: `expected offset ${t.held}, got ${offset}` });
    }
    const fresh = data.subarray(t.held - offset);
    t.parts.push(fresh.slice());
    t.held += fresh.length;
    t.item.progress.value = t.held / Math.max(1, t.size);
    if (t.held - t.lastAck >= ACK_EVERY && t.held < t.size) {
      t.lastAck = t.held;
      this.sendControl({ type: "ack", id, offset: t.held });
    }
    if (t.held >= t.size) this.finish(id, t);
  },

  async finish(id, t) {
    const blob = new Blob(t.parts, { type: mimeOf(t.name) });
    const sha256 = await sha256Hex(new Uint8Array(await blob.arrayBuffer()));
    if (sha256 !== t.sha256) {
      this.sendControl({ type: "error", id, code: "hash_mismatch", message: "SHA-256 of the received file differs" });
      this.incoming.delete(id);
      t.item.li.remove();
      return this.status("Le document reçu était abîmé ; redemandez la numérisation.");
    }
    this.sendControl({ type: "ack", id, offset: t.size });
    this.sendControl({ type: "received", id, sha256 });
    this.incoming.delete(id);
    const url = URL.createObjectURL(blob);
    this.urls.push(url);
    t.item.done(url, sha256);
    this.status(`Document « ${t.name} » reçu.`);
  },

  scanItem(offer) {
    const li = document.createElement("li");
    li.dataset.testid = "scan-item";
    const label = document.createElement("span");
    label.textContent = `${offer.name} · ${formatSize(offer.size)}`;
    const progress = document.createElement("progress");
    progress.max = 1;
    progress.value = 0;
    li.append(label, progress);
    $("scans").append(li);
    return {
      li,
      progress,
      done(url, sha256) {
        li.dataset.sha256 = sha256;
        li.dataset.size = String(offer.size);
        progress.remove();
        if (/\.(png|jpe?g)$/i.test(offer.name)) {
          const img = document.createElement("img");
          img.src = url;
          img.alt = offer.name;
          li.prepend(img);
        }
        const link = document.createElement("a");
        link.href = url;
        link.download = offer.name;
        link.textContent = "Télécharger";
        const hash = document.createElement("code");
        hash.textContent = sha256.slice(0, 12) + "…";
        hash.title = sha256;
        li.append(link, hash);
      },
    };
  },

  /// Nothing of the call stays in the page: blob URLs are revoked (a scan
  /// the agent downloaded is already in their files) and lists cleared.
  release() {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.incoming.clear();
    this.outgoing.clear();
    this.channel = null;
    this.enable(false);
    $("scans").replaceChildren();
    this.status("");
  },
};

$("request-scan").addEventListener("click", () => {
  const mode = document.querySelector('input[name="scan-mode"]:checked').value;
  Documents.requestScan(mode === "grey" ? "gray" : "color");
});
$("send-print").addEventListener("click", () => Documents.push($("print-file").files[0], "print"));
$("send-show").addEventListener("click", () => Documents.push($("show-file").files[0], "display"));

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function mimeOf(name) {
  if (/\.pdf$/i.test(name)) return "application/pdf";
  if (/\.png$/i.test(name)) return "image/png";
  if (/\.jpe?g$/i.test(name)) return "image/jpeg";
  return "application/octet-stream";
}

function formatSize(bytes) {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} Mo` : `${Math.max(1, Math.round(bytes / 1024))} Ko`;
}

boot();
