// A third party in the call (docs/protocol.md "A third party"): the agent
// mints a one-time link; when the guest opens it, this page is the mixer.
// The kiosk keeps its one video and one audio track each way: what we send
// it becomes our camera with the guest's picture inset (side by side for a
// sign-language interpreter, whose hands must be read) and our voice mixed
// with theirs, by RTCRtpSender.replaceTrack, with no renegotiation. The
// guest gets the kiosk's picture, our camera, and the kiosk's voice mixed
// with ours, on a second peer connection negotiated through the hub.

const COMPOSITE = { width: 640, height: 360, fps: 25 };

const Guest = {
  /// The invite of this call: role, link, expiry; null when none.
  invite: null,
  /// The guest's connection and the mixing, once they joined.
  link: null,
  /// Made in the agent's click (browsers start sound only on a gesture).
  audio: null,

  render() {
    const select = $("guest-role");
    const chosen = select.value;
    select.replaceChildren(new Option(t("guest.choose"), ""));
    for (const role of ["interpreter", "sign_interpreter", "agent"]) select.append(new Option(t(`guest.role.${role}`), role));
    select.value = chosen;
    this.update();
  },

  update() {
    $("guest-invite").disabled = !state.call || !$("guest-role").value || Boolean(this.link);
    const invite = this.invite;
    $("guest-row").hidden = !invite;
    if (!invite) return;
    const who = t(`guest.who.${invite.role}`);
    const status = {
      invited: () => t("guest.invited", { time: new Date(invite.expiresAt).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }) }),
      joining: () => t("guest.joining", { who }),
      in: () => t("guest.in", { who }),
    }[invite.state]();
    $("guest-status").textContent = status;
    $("guest-row").dataset.state = invite.state;
    $("guest-link-box").hidden = invite.state !== "invited";
    $("guest-link").value = invite.url;
  },

  ask() {
    const role = $("guest-role").value;
    if (!state.call || !role) return;
    if (!this.audio) this.audio = new AudioContext();
    send({ type: "invite", session: state.call.session, role });
  },

  invited(msg) {
    if (!state.call || state.call.session !== msg.session) return;
    const url = `${location.origin}/guest/#${msg.token}`;
    this.invite = { role: msg.role, url, expiresAt: Date.parse(msg.expires_at), state: "invited" };
    this.update();
  },

  /// The guest opened the link: a connection to them, and the mixing.
  async joined(msg) {
    const call = state.call;
    if (!call || call.session !== msg.session || !this.invite) return;
    this.invite.state = "joining";
    this.update();
    try {
      await call.mediaReady;
      this.link = startMixing(call, this.audio || new AudioContext(), msg.role);
      const offer = await this.link.pc.createOffer();
      await this.link.pc.setLocalDescription(offer);
      send({ type: "guest_signal", session: call.session, signal: { kind: "offer", sdp: offer.sdp } });
    } catch (error) {
      console.warn("guest", error);
      banner(t("guest.failed"), 8000, "error");
    }
  },

  async signal(msg) {
    const link = this.link;
    if (!link || !state.call || state.call.session !== msg.session) return;
    const signal = msg.signal;
    try {
      if (signal.kind === "answer") {
        await link.pc.setRemoteDescription({ type: "answer", sdp: signal.sdp });
        link.remoteSet = true;
        for (const c of link.pending.splice(0)) await link.pc.addIceCandidate(c);
      } else if (signal.kind === "candidate") {
        if (link.remoteSet) await link.pc.addIceCandidate(signal.candidate);
        else link.pending.push(signal.candidate);
      }
    } catch (error) {
      console.warn("guest negotiation", error);
      banner(t("guest.failed"), 8000, "error");
    }
  },

  /// The guest is in: both ways flow.
  flowing() {
    if (this.invite && this.invite.state !== "in") {
      this.invite.state = "in";
      this.update();
    }
  },

  left(msg) {
    if (!state.call || state.call.session !== msg.session || !this.invite) return;
    banner(t("guest.left", { who: t(`guest.who.${this.invite.role}`) }), 6000);
    this.stop();
  },

  dismiss() {
    if (!state.call) return;
    send({ type: "dismiss_guest", session: state.call.session });
    this.stop();
  },

  /// Back to one-to-one: the kiosk gets our own camera and microphone again.
  stop() {
    const link = this.link;
    this.link = null;
    this.invite = null;
    if (link) stopMixing(link);
    this.update();
  },
};

/// The kiosk's tracks as we receive them, and our senders to it.
function kioskSide(call) {
  const received = (kind) => call.pc.getReceivers().map((r) => r.track).find((track) => track && track.kind === kind);
  const sender = (kind) => call.pc.getSenders().find((s) => s.track && s.track.kind === kind);
  return { video: received("video"), audio: received("audio"), videoSender: sender("video"), audioSender: sender("audio") };
}

function startMixing(call, audio, role) {
  const kiosk = kioskSide(call);
  const pc = new RTCPeerConnection({ iceServers: call.iceServers });
  const link = { pc, pending: [], remoteSet: false, audio, kiosk, role, timer: null, stream: new MediaStream(), sent: [] };
  if (audio.state === "suspended") audio.resume();
  // The guest hears the kiosk and us; the kiosk hears us and the guest.
  link.toGuest = audio.createMediaStreamDestination();
  link.toKiosk = audio.createMediaStreamDestination();
  const mine = call.local || new MediaStream();
  if (mine.getAudioTracks().length) {
    const mic = audio.createMediaStreamSource(new MediaStream(mine.getAudioTracks()));
    mic.connect(link.toGuest);
    mic.connect(link.toKiosk);
  }
  if (kiosk.audio) audio.createMediaStreamSource(new MediaStream([kiosk.audio])).connect(link.toGuest);
  const kioskStream = new MediaStream();
  if (kiosk.video) pc.addTrack(kiosk.video, kioskStream);
  pc.addTrack(link.toGuest.stream.getAudioTracks()[0], kioskStream);
  for (const track of mine.getVideoTracks()) pc.addTrack(track, new MediaStream([track]));
  if (kiosk.audioSender) kiosk.audioSender.replaceTrack(link.toKiosk.stream.getAudioTracks()[0]);

  pc.onicecandidate = (event) => {
    if (Guest.link !== link || !state.call) return;
    const signal = event.candidate ? { kind: "candidate", candidate: event.candidate.toJSON() } : { kind: "end_of_candidates" };
    send({ type: "guest_signal", session: state.call.session, signal });
  };
  pc.ontrack = (event) => {
    if (Guest.link !== link) return;
    link.stream.addTrack(event.track);
    const video = $("guest-video");
    video.srcObject = link.stream;
    if (event.track.kind === "audio") {
      // Chromium feeds a remote track to Web Audio only while a media
      // element plays it: the inset plays it, and we hear the guest there.
      audio.createMediaStreamSource(new MediaStream([event.track])).connect(link.toKiosk);
    } else {
      video.hidden = false;
      startComposite(call, link);
    }
    Guest.flowing();
  };
  return link;
}

/// Our camera with the guest's picture, drawn COMPOSITE.fps times a second
/// on a canvas whose stream replaces our camera on the kiosk's sender.
function startComposite(call, link) {
  if (link.timer || !link.kiosk.videoSender) return;
  const canvas = document.createElement("canvas");
  canvas.width = COMPOSITE.width;
  canvas.height = COMPOSITE.height;
  const g = canvas.getContext("2d");
  const self = $("local-video");
  const guest = $("guest-video");
  const { width: w, height: h } = COMPOSITE;
  link.timer = setInterval(() => {
    g.fillStyle = "#000";
    g.fillRect(0, 0, w, h);
    if (link.role === "sign_interpreter") {
      // Side by side, the interpreter as large as us: signs must be read.
      drawFitted(g, self, 0, 0, w / 2, h);
      drawFitted(g, guest, w / 2, 0, w / 2, h);
    } else {
      drawFitted(g, self, 0, 0, w, h);
      const iw = w * 0.3;
      const ih = guest.videoWidth ? (iw * guest.videoHeight) / guest.videoWidth : iw * 0.5625;
      g.fillStyle = "#fff";
      g.fillRect(w - iw - 12, h - ih - 12, iw + 4, ih + 4);
      drawFitted(g, guest, w - iw - 10, h - ih - 10, iw, ih);
    }
  }, 1000 / COMPOSITE.fps);
  link.composite = canvas.captureStream(COMPOSITE.fps).getVideoTracks()[0];
  link.kiosk.videoSender.replaceTrack(link.composite);
}

/// Draws `video` into the box, its aspect kept.
function drawFitted(g, video, x, y, w, h) {
  if (!video.videoWidth) return;
  const scale = Math.min(w / video.videoWidth, h / video.videoHeight);
  const dw = video.videoWidth * scale;
  const dh = video.videoHeight * scale;
  g.drawImage(video, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
}

function stopMixing(link) {
  clearInterval(link.timer);
  const call = state.call;
  if (call && call.local) {
    const camera = call.local.getVideoTracks()[0];
    const mic = call.local.getAudioTracks()[0];
    if (link.kiosk.videoSender && camera) link.kiosk.videoSender.replaceTrack(camera);
    if (link.kiosk.audioSender && mic) link.kiosk.audioSender.replaceTrack(mic);
  }
  if (link.composite) link.composite.stop();
  link.pc.close();
  const video = $("guest-video");
  video.srcObject = null;
  video.hidden = true;
}

$("guest-role").addEventListener("change", () => Guest.update());
$("guest-invite").addEventListener("click", () => Guest.ask());
$("guest-dismiss").addEventListener("click", () => Guest.dismiss());
$("guest-copy").addEventListener("click", async () => {
  $("guest-link").select();
  try {
    await navigator.clipboard.writeText($("guest-link").value);
    banner(t("guest.copied"), 3000);
  } catch (_) {
    // Selected: the agent copies it with the keyboard.
  }
});
languageHooks.push(() => Guest.render());
