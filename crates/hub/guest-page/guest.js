// The guest's page (/guest/#<token>): an interpreter or a second agent
// invited into a call by the agent (docs/protocol.md "A third party").
// The token in the address is the only credential. The agent's browser
// offers one connection carrying the resident's picture, the agent's
// camera and the voices of both mixed; we answer with our camera and
// microphone. Nothing is kept after the call.

addWords({
  fr: {
    "app.sub": "Invité",
    "guest.title": "Rejoindre un appel Visio-Public",
    "guest.connecting": "Connexion au service…",
    "guest.joining": "Connexion à l'appel de {agent}…",
    "guest.in": "Vous êtes dans l'appel de {agent} comme {role}. L'usager vous voit et vous entend.",
    "guest.role.interpreter": "interprète",
    "guest.role.sign_interpreter": "interprète en langue des signes",
    "guest.role.agent": "second conseiller",
    "guest.resident": "L'usager, à la borne",
    "guest.agent": "{agent}, conseiller",
    "guest.you": "Vous",
    "guest.mute": "Couper le micro",
    "guest.unmute": "Rétablir le micro",
    "guest.leave": "Quitter l'appel",
    "guest.ended": "L'appel est terminé pour vous. Merci ; vous pouvez fermer cette page.",
    "guest.lost": "Liaison avec le service perdue. Si l'appel continue, demandez un nouveau lien au conseiller.",
    "guest.no-link": "Ce lien est incomplet : ouvrez le lien entier envoyé par le conseiller.",
    "guest.camera": "Caméra ou micro indisponible ({reason}) : l'usager ne vous verra pas.",
    "guest.invite_expired": "Ce lien a expiré, ou l'appel pour lequel il a été créé est terminé. Demandez un nouveau lien au conseiller.",
    "guest.invite_used": "Ce lien a déjà servi : il ne vaut qu'une fois. Demandez un nouveau lien au conseiller.",
    "guest.auth_failed": "Ce lien n'est pas une invitation valable. Vérifiez que vous l'avez copié en entier.",
    "guest.refused": "L'invitation a été refusée ({code}).",
  },
  en: {
    "app.sub": "Guest",
    "guest.title": "Join a Visio-Public call",
    "guest.connecting": "Connecting to the service…",
    "guest.joining": "Joining {agent}'s call…",
    "guest.in": "You are in {agent}'s call as {role}. The resident sees and hears you.",
    "guest.role.interpreter": "interpreter",
    "guest.role.sign_interpreter": "sign-language interpreter",
    "guest.role.agent": "second agent",
    "guest.resident": "The resident, at the kiosk",
    "guest.agent": "{agent}, agent",
    "guest.you": "You",
    "guest.mute": "Mute the microphone",
    "guest.unmute": "Unmute the microphone",
    "guest.leave": "Leave the call",
    "guest.ended": "The call is over for you. Thank you; you may close this page.",
    "guest.lost": "Connection to the service lost. If the call goes on, ask the agent for a new link.",
    "guest.no-link": "This link is incomplete: open the whole link the agent sent.",
    "guest.camera": "Camera or microphone unavailable ({reason}): the resident will not see you.",
    "guest.invite_expired": "This link has expired, or the call it was made for is over. Ask the agent for a new link.",
    "guest.invite_used": "This link was already used: it is good once only. Ask the agent for a new link.",
    "guest.auth_failed": "This link is not a valid invitation. Check that you copied all of it.",
    "guest.refused": "The invitation was refused ({code}).",
  },
});

const guest = { ws: null, pc: null, local: null, media: null, welcome: null, pending: [], remoteSet: false, over: false, muted: false, status: ["guest.connecting", {}] };
// A property of the window, for tests and a person debugging: Firefox's
// WebDriver scripts do not see a page's top-level `const`s.
window.guest = guest;

function say(key, params, kind) {
  guest.status = [key, params || {}, kind];
  const el = $("guest-status");
  el.textContent = t(key, params);
  if (kind) el.dataset.state = kind;
  else delete el.dataset.state;
}

function roleParams() {
  const w = guest.welcome;
  return { agent: w.agent_name, role: t(`guest.role.${w.role}`) };
}

function joinCall(token) {
  const ws = new WebSocket(`wss://${location.host}/ws/guest`);
  guest.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: PROTOCOL, token }));
  ws.onmessage = (event) => received(JSON.parse(event.data));
  ws.onclose = () => {
    if (!guest.over) {
      leave();
      say("guest.lost", {}, "lost");
    }
  };
}

function send(msg) {
  if (guest.ws && guest.ws.readyState === WebSocket.OPEN) guest.ws.send(JSON.stringify(msg));
}

async function received(msg) {
  switch (msg.type) {
    case "welcome":
      guest.welcome = msg;
      say("guest.joining", roleParams());
      $("guest-agent-name").textContent = t("guest.agent", roleParams());
      guest.pc = newConnection(msg.ice_servers);
      guest.media = openMedia();
      break;
    case "signal":
      await onSignal(msg.signal);
      break;
    case "ended":
      guest.over = true;
      leave();
      say("guest.ended", {});
      break;
    case "error": {
      const key = `guest.${msg.code}`;
      if (!guest.welcome) {
        guest.over = true;
        say(t(key) === key ? "guest.refused" : key, { code: msg.code }, "refused");
      }
      break;
    }
  }
}

function newConnection(iceServers) {
  const pc = new RTCPeerConnection({ iceServers });
  const streams = { kiosk: new MediaStream(), agent: new MediaStream() };
  let videos = 0;
  pc.onicecandidate = (event) => {
    const signal = event.candidate ? { kind: "candidate", candidate: event.candidate.toJSON() } : { kind: "end_of_candidates" };
    send({ type: "signal", signal });
  };
  // In the offer's order: the resident's picture, the voices, the agent.
  pc.ontrack = (event) => {
    const to = event.track.kind === "audio" || videos++ === 0 ? "kiosk" : "agent";
    streams[to].addTrack(event.track);
    $(to === "kiosk" ? "guest-kiosk" : "guest-agent").srcObject = streams[to];
    $("guest-call").hidden = false;
    say("guest.in", roleParams());
  };
  return pc;
}

async function openMedia() {
  try {
    guest.local = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
    $("guest-self").srcObject = guest.local;
  } catch (error) {
    say("guest.camera", { reason: error.name }, "refused");
  }
}

async function onSignal(signal) {
  const pc = guest.pc;
  if (!pc) return;
  if (signal.kind === "offer") {
    await guest.media;
    await pc.setRemoteDescription({ type: "offer", sdp: signal.sdp });
    guest.remoteSet = true;
    if (guest.local) for (const track of guest.local.getTracks()) pc.addTrack(track, guest.local);
    for (const c of guest.pending.splice(0)) await pc.addIceCandidate(c);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    send({ type: "signal", signal: { kind: "answer", sdp: answer.sdp } });
  } else if (signal.kind === "candidate") {
    if (guest.remoteSet) await pc.addIceCandidate(signal.candidate);
    else guest.pending.push(signal.candidate);
  }
}

/// Nothing of the call stays in the page.
function leave() {
  if (guest.pc) guest.pc.close();
  guest.pc = null;
  if (guest.local) for (const track of guest.local.getTracks()) track.stop();
  guest.local = null;
  for (const id of ["guest-kiosk", "guest-agent", "guest-self"]) $(id).srcObject = null;
  $("guest-call").hidden = true;
}

function startGuest() {
  lang = localStorage.getItem("visio-guest-lang") === "en" ? "en" : "fr";
  applyWords();
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      localStorage.setItem("visio-guest-lang", lang);
      applyWords();
      say(...guest.status);
      if (guest.welcome) $("guest-agent-name").textContent = t("guest.agent", roleParams());
      $("guest-mute").textContent = t(guest.muted ? "guest.unmute" : "guest.mute");
    });
  }
  $("guest-leave").addEventListener("click", () => {
    guest.over = true;
    send({ type: "leave" });
    leave();
    say("guest.ended", {});
  });
  $("guest-mute").addEventListener("click", () => {
    guest.muted = !guest.muted;
    if (guest.local) for (const track of guest.local.getAudioTracks()) track.enabled = !guest.muted;
    $("guest-mute").textContent = t(guest.muted ? "guest.unmute" : "guest.mute");
    $("guest-mute").setAttribute("aria-pressed", String(guest.muted));
  });
  const token = decodeURIComponent(location.hash.slice(1));
  if (!token) return say("guest.no-link", {}, "refused");
  joinCall(token);
}

startGuest();
