// The call: the kiosk offers, we answer. Its context, its quality, and a
// clear state when the kiosk's media stop (lost), from the browser's own
// figures rather than the hub's 60 s liveness.

/// Seconds without a new inbound video frame (or with ICE disconnected)
/// before the kiosk is shown as lost. Kiosks send at least 5 frames/s even
/// on the thinnest link (the media crate's ladder), so 2 s of nothing is
/// not a slow link.
const LOST_AFTER_S = 2;

function startCall(msg, resumed) {
  const call = {
    session: msg.session,
    service: msg.service,
    site: msg.site,
    kioskId: msg.kiosk_id,
    transferredFrom: msg.transferred_from || null,
    devices: msg.devices || null,
    resumed,
    waitedMs: waitedBeforeCall(msg.session),
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
    level: null,
    stalledS: 0,
    everReceived: false,
    peerAway: false,
  };
  state.call = call;
  Documents.showLost([]);
  History.load();
  Kept.render();
  $("call").hidden = false;
  $("idle").hidden = true;
  $("self").hidden = false;
  $("context").hidden = false;
  renderCallTexts();
  Transfer.update();
  Guest.update();
  peerAway(false);
  updateTakeNext();
  newPeerConnection(call);
  // The answer must carry our tracks: the offer waits for this.
  call.mediaReady = openCameraAndMicrophone(call);
  call.statsTimer = setInterval(() => showQuality(call), 1000);
  return call;
}

/// How long this resident waited, from the last queue list that had them.
function waitedBeforeCall(session) {
  for (const queue of state.queues) {
    const resident = queue.waiting.find((r) => r.session === session);
    if (resident) return Math.max(0, Date.now() + state.hubSkewMs - Date.parse(resident.queued_at));
  }
  return null;
}

/// The call's texts in the current language: title, context, mute label.
function renderCallTexts() {
  const call = state.call;
  $("call-title").textContent = `${call.service.toUpperCase()} · ${call.site}`;
  $("mute").textContent = t(call.muted ? "call.unmute" : "call.mute");
  const rows = [
    ["context.service", call.service.toUpperCase()],
    ["context.site", call.site],
    ["context.kiosk", call.kioskId],
    ["context.waited", call.waitedMs === null ? t("context.unknown") : formatWaited(call.waitedMs)],
    ["context.call", t(call.resumed ? "context.resumed" : "context.new")],
  ];
  if (call.transferredFrom) rows.push(["context.transferred", t("transfer.from", { service: call.transferredFrom.toUpperCase() })]);
  rows.push(...deviceRows(call.devices));
  const list = $("context-list");
  list.replaceChildren();
  for (const [key, value, fault] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = t(key);
    const dd = document.createElement("dd");
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value;
    dd.dataset.field = key.slice(8);
    if (fault) dd.classList.add("fault");
    list.append(dt, dd);
  }
  renderSoundFaults(call.devices);
  if (call.level) renderQuality(call, call.lastFigures);
  showPeerStatus();
}

/// The kiosk's devices changed during the call (a handset picked up, a
/// microphone gone silent).
function kioskDevices(session, devices) {
  if (!state.call || state.call.session !== session) return;
  state.call.devices = devices;
  renderCallTexts();
}

const DEVICE_ORDER = ["microphone", "speaker", "camera", "scanner", "printer"];

/// One device's row: a few translated words when the kiosk gave a fault
/// code (the sound faults are said in full above), else its state, with
/// the kiosk's own words (English) marked as such.
function deviceText(name, status) {
  const key = `fault-short.${name}.${status.code}`;
  if (status.code && t(key) !== key) return t(key);
  const word = t(`device.state.${status.state}`);
  if (!status.detail || status.state === "ok" || status.state === "not_installed") return word;
  const span = document.createElement("span");
  const detail = document.createElement("span");
  detail.lang = "en";
  detail.textContent = status.detail;
  span.append(`${word} (`, detail, ")");
  return span;
}

/// The context's rows for the kiosk's devices: where the sound goes (on a
/// kiosk with a handset) and a row for each device at fault; nothing more
/// when all work, so the call's context still fits the screen.
function deviceRows(devices) {
  if (!devices) return [];
  const rows = [];
  if (devices.sound_output) rows.push(["context.sound-output", t(`sound-output.${devices.sound_output}`)]);
  const failing = DEVICE_ORDER.filter((name) => devices[name] && (devices[name].state === "missing" || devices[name].state === "error"));
  for (const name of failing) rows.push([`context.device-${name}`, deviceText(name, devices[name]), true]);
  return rows;
}

/// A kiosk that cannot hear or be heard is said plainly above the call's
/// context, with what it means for the conversation.
function renderSoundFaults(devices) {
  const box = $("kiosk-sound");
  const faults = ["microphone", "speaker"]
    .filter((name) => devices && devices[name] && (devices[name].state === "missing" || devices[name].state === "error"))
    .map((name) => {
      const status = devices[name];
      const key = `fault.${name}.${status.code}`;
      return status.code && t(key) !== key ? t(key) : t(`fault.${name}.other`);
    });
  box.textContent = faults.join(" ");
  box.hidden = faults.length === 0;
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
  call.stalledS = 0;
  call.everReceived = false;
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
  // ICE dropping is the quickest sign of a lost kiosk: check at once.
  pc.oniceconnectionstatechange = () => showQuality(call);
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
    if (msg.devices) kioskDevices(msg.session, msg.devices);
    peerAway(false);
    return;
  }
  endCallLocally();
  startCall(msg, true);
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
    banner(t("call.camera", { reason: error.name }), 0, "error");
  }
}

/// The kiosk lost the hub (or came back): the call's media may go on
/// meanwhile, so the call stays on screen with a notice.
function peerAway(away) {
  if (state.call) state.call.peerAway = away;
  showPeerStatus();
}

/// One notice for the two ways of losing the kiosk: the hub says it is
/// away, or its media stopped arriving here.
function showPeerStatus() {
  const call = state.call;
  const el = $("peer-status");
  const lost = call && call.level === "lost";
  el.hidden = !call || (!call.peerAway && !lost);
  el.classList.toggle("lost", Boolean(lost));
  $("videos").classList.toggle("lost", Boolean(lost));
  el.dataset.state = lost ? "lost" : call && call.peerAway ? "away" : "ok";
  el.textContent = !call ? "" : lost ? t("peer.lost", { seconds: call.stalledS }) : call.peerAway ? t("peer.away") : "";
}

// The kiosk offers `a=setup:actpass`, as JSEP asks, and the browser's own
// answer (`active`) makes it the DTLS client: the kiosk's video then leaves
// half a round trip sooner than with the kiosk as client (docs/protocol.md,
// "DTLS roles"). No edit of the answer.
async function answerOffer(pc) {
  await pc.setLocalDescription(await pc.createAnswer());
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
      await answerOffer(call.pc);
      send({ type: "signal", session, signal: { kind: "answer", sdp: call.pc.localDescription.sdp } });
    } else if (signal.kind === "candidate") {
      // A candidate can arrive before the offer is applied: keep it.
      if (call.remoteSet) await call.pc.addIceCandidate(signal.candidate);
      else call.pendingCandidates.push(signal.candidate);
    }
  } catch (error) {
    console.warn("negotiation", error);
    banner(t("call.negotiation"), 8000, "error");
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
  $("mute").textContent = t(call.muted ? "call.unmute" : "call.mute");
  $("mute").setAttribute("aria-pressed", String(call.muted));
});

/// Tears the call down in the page: nothing of it stays (the private notes
/// stay until sign-out: the agent may still copy them).
function endCallLocally() {
  const call = state.call;
  if (!call) return;
  Guest.stop();
  clearInterval(call.statsTimer);
  call.pc.close();
  if (call.local) for (const track of call.local.getTracks()) track.stop();
  $("remote-video").srcObject = null;
  $("local-video").srcObject = null;
  Documents.release();
  state.call = null;
  Kept.render();
  $("call").hidden = true;
  $("idle").hidden = false;
  $("self").hidden = true;
  $("context").hidden = true;
  $("context-list").replaceChildren();
  $("peer-status").hidden = true;
  $("mute").textContent = t("call.mute");
  $("mute").removeAttribute("aria-pressed");
  const quality = $("quality");
  quality.textContent = "—";
  quality.className = "quality";
  delete quality.dataset.quality;
  quality.title = "";
  $("kiosk-quality").hidden = true;
  updateTakeNext();
  Guest.update();
  Alerts.check();
}

/// Every second, from getStats(): round trip, inbound video loss, frame
/// rate and freezes give the level; no new frame and no new byte for
/// LOST_AFTER_S seconds, or ICE disconnected or failed, is "lost".
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
    at: performance.now(),
    lost: video ? video.packetsLost || 0 : 0,
    received: video ? video.packetsReceived || 0 : 0,
    bytes: video ? video.bytesReceived || 0 : 0,
    frames: video ? video.framesDecoded || 0 : 0,
    freezes: video ? video.freezeCount || 0 : 0,
  };
  const last = call.lastStats || now;
  if (call.lastStats && now.at - last.at < 500) return; // an extra check from an ICE event
  call.lastStats = now;
  const flowing = now.frames > last.frames || now.bytes > last.bytes;
  if (flowing) call.everReceived = true;
  if (flowing) call.stalledS = 0;
  else if (call.everReceived) call.stalledS += Math.max(1, Math.round((now.at - last.at) / 1000));
  const ice = pc.iceConnectionState;
  const iceDown = ice === "disconnected" || ice === "failed";
  const lost = iceDown || (call.everReceived && call.stalledS >= LOST_AFTER_S);
  const lostPackets = Math.max(0, now.lost - last.lost);
  const received = Math.max(0, now.received - last.received);
  const loss = lostPackets + received > 0 ? lostPackets / (lostPackets + received) : 0;
  const fps = video && video.framesPerSecond !== undefined ? video.framesPerSecond : null;
  const froze = now.freezes > last.freezes;
  call.level = lost ? "lost" : qualityLevel({ rtt, loss, fps, froze, receiving: video !== null });
  call.lastFigures = { rtt, loss, fps, freezes: now.freezes };
  renderQuality(call, call.lastFigures);
  showPeerStatus();
}

/// The kiosk's own measure of how the call reaches the resident
/// (`link_quality` on the documents channel, every few seconds).
function showKioskQuality({ level, rtt_ms, loss_permille, fps }) {
  if (!["good", "fair", "poor"].includes(level)) return;
  const el = $("kiosk-quality");
  el.hidden = false;
  el.className = `quality ${level}`;
  el.dataset.quality = level;
  el.textContent = t(`quality.kiosk-${level}`);
  el.title = t("quality.kiosk-detail", {
    rtt: rtt_ms !== undefined ? `${rtt_ms} ms` : "?",
    loss: ((loss_permille || 0) / 10).toFixed(1),
    fps: fps !== undefined ? fps : "?",
  });
}

function renderQuality(call, { rtt, loss, fps, freezes }) {
  const el = $("quality");
  el.className = `quality ${call.level}`;
  el.dataset.quality = call.level;
  el.textContent = t(`quality.${call.level}`);
  el.title = t("quality.detail", {
    rtt: rtt !== null ? `${Math.round(rtt * 1000)} ms` : "?",
    loss: (loss * 100).toFixed(1),
    fps: fps !== null ? Math.round(fps) : "?",
    freezes,
  });
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
