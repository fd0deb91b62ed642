// Documents over the call's data channel (the document-transfer protocol
// of docs/protocol.md).

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
      this.status(t("docs.closed"));
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
    this.status(t("docs.open"));
    // Transfers cut by a drop go on from where they stopped.
    for (const [id, tr] of this.outgoing) if (!tr.delivered) this.sendControl({ type: "resume", id });
  },

  enable(on) {
    $("request-scan").disabled = !on;
    $("send-print").disabled = !on;
    $("send-show").disabled = !on;
  },

  /// `kind` "error" (red) only for a real failure; `detail` (the kiosk's
  /// own words, English) goes in the tooltip for support.
  status(text, kind = "info", detail = "") {
    const el = $("doc-status");
    el.textContent = text;
    el.className = kind === "error" ? "error" : "muted";
    el.title = detail || "";
  },

  sendControl(msg) {
    if (this.channel && this.channel.readyState === "open") this.channel.send(JSON.stringify(msg));
  },

  async push(file, purpose) {
    if (!file) return this.status(t("docs.choose"));
    const data = new Uint8Array(await file.arrayBuffer());
    const sha256 = await sha256Hex(data);
    const id = this.nextId++;
    this.outgoing.set(id, { id, name: file.name, size: data.length, data, sha256, purpose, offset: 0, acked: 0, accepted: false, delivered: false });
    this.sendControl({ type: "offer", id, name: file.name, size: data.length, sha256, purpose });
    History.set(`out-${id}`, { kind: purpose, name: file.name, outcome: "sending" });
    this.status(t("docs.sending", { name: file.name }));
  },

  /// Sends chunks while the window and the channel's buffer allow.
  pump() {
    const channel = this.channel;
    if (!channel || channel.readyState !== "open") return;
    for (const tr of this.outgoing.values()) {
      if (!tr.accepted || tr.offset >= tr.size) continue;
      while (tr.offset < tr.size && tr.offset - tr.acked < WINDOW && channel.bufferedAmount < HIGH_WATER) {
        const data = tr.data.subarray(tr.offset, Math.min(tr.size, tr.offset + CHUNK_DATA));
        const frame = new Uint8Array(12 + data.length);
        const view = new DataView(frame.buffer);
        frame[0] = 1; // version
        frame[1] = 0; // data chunk
        view.setUint32(4, tr.id);
        view.setUint32(8, tr.offset);
        frame.set(data, 12);
        channel.send(frame);
        tr.offset += data.length;
      }
    }
  },

  onControl(msg) {
    // The scan interview's messages (scans.js).
    if (Scans.onControl(msg)) return;
    const out = this.outgoing.get(msg.id);
    switch (msg.type) {
      case "link_quality":
        showKioskQuality(msg);
        break;
      case "scan_started":
        this.status(t("docs.scanning"));
        break;
      case "scan_failed":
        this.status(t("docs.scan-failed", { reason: scanFailureText(msg.reason) }), "error", msg.reason);
        break;
      case "offer":
        if (msg.purpose !== "scan" && msg.purpose !== "signed") {
          this.sendControl({ type: "error", id: msg.id, code: "unexpected", message: "the agent page only receives scans and signed documents" });
          break;
        }
        this.incoming.set(msg.id, { ...msg, parts: [], held: 0, lastAck: 0, item: this.scanItem(msg) });
        this.sendControl({ type: "accept", id: msg.id, offset: 0 });
        break;
      case "resume": {
        const tr = this.incoming.get(msg.id);
        if (tr) this.sendControl({ type: "accept", id: msg.id, offset: tr.held });
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
          this.status(t("docs.progress", { name: out.name, percent: Math.floor((100 * out.acked) / Math.max(1, out.size)) }));
          this.pump();
        }
        break;
      case "received":
        if (out) {
          out.delivered = true;
          out.data = null;
          this.status(t("docs.received-by-kiosk", { name: out.name }));
        }
        break;
      case "outcome":
        if (out) {
          if (msg.outcome === "printed" || msg.outcome === "shown") this.status(t(`docs.${msg.outcome}`, { name: out.name }));
          else if (msg.outcome === "refused") this.status(t("sign.refused", { name: out.name }));
          else this.status(t("docs.failed", { name: out.name, reason: failureText(msg.reason) }), "error", msg.reason);
          History.update(`out-${msg.id}`, { outcome: msg.outcome, reason: msg.reason });
          this.outgoing.delete(msg.id);
          SignView.ended(msg.id);
        }
        break;
      case "cancel":
        History.update(`out-${msg.id}`, { outcome: "cancelled", reason: msg.reason });
        this.outgoing.delete(msg.id);
        this.incoming.delete(msg.id);
        this.status(t("docs.cancelled"));
        break;
      case "error":
        if (msg.id !== undefined) {
          History.update(`out-${msg.id}`, { outcome: "failed", reason: msg.message });
          this.outgoing.delete(msg.id);
          this.incoming.delete(msg.id);
        }
        this.status(t("docs.refused", { reason: codeText(msg.code, msg.message) }), "error", msg.message);
        break;
    }
  },

  onChunk(buffer) {
    if (buffer.byteLength < 13) return;
    const view = new DataView(buffer);
    const id = view.getUint32(4);
    const offset = view.getUint32(8);
    const data = new Uint8Array(buffer, 12);
    const tr = this.incoming.get(id);
    if (!tr) return this.sendControl({ type: "error", id, code: "unknown_transfer", message: "no such transfer" });
    if (offset + data.length <= tr.held) return; // a duplicate after a resume
    if (offset > tr.held) {
      return this.sendControl({ type: "error", id, code: "offset_gap", message: `expected offset ${tr.held}, got ${offset}` });
    }
    const fresh = data.subarray(tr.held - offset);
    tr.parts.push(fresh.slice());
    tr.held += fresh.length;
    tr.item.progress.value = tr.held / Math.max(1, tr.size);
    if (tr.held - tr.lastAck >= ACK_EVERY && tr.held < tr.size) {
      tr.lastAck = tr.held;
      this.sendControl({ type: "ack", id, offset: tr.held });
    }
    if (tr.held >= tr.size) this.finish(id, tr);
  },

  async finish(id, tr) {
    const blob = new Blob(tr.parts, { type: mimeOf(tr.name) });
    const sha256 = await sha256Hex(new Uint8Array(await blob.arrayBuffer()));
    if (sha256 !== tr.sha256) {
      this.sendControl({ type: "error", id, code: "hash_mismatch", message: "SHA-256 of the received file differs" });
      this.incoming.delete(id);
      tr.item.li.remove();
      return this.status(t("docs.damaged"), "error");
    }
    this.sendControl({ type: "ack", id, offset: tr.size });
    this.sendControl({ type: "received", id, sha256 });
    this.incoming.delete(id);
    const url = URL.createObjectURL(blob);
    this.urls.push(url);
    tr.item.done(url, sha256);
    if (tr.purpose === "scan" || tr.purpose === "signed") {
      // Kept until the agent saves or dismisses it, past the call (scans.js).
      Kept.add(tr.name, blob, sha256);
      History.set(`in-${id}`, { kind: tr.purpose === "signed" ? "signed-in" : "scan", name: tr.name, outcome: "received" });
      this.status(t("docs.got", { name: tr.name }));
    }
    if (tr.purpose === "signed") {
      // The document sent to sign is done with: signed (sign.js).
      History.update(`out-${tr.req}`, { outcome: "signed" });
      this.outgoing.delete(tr.req);
      SignView.signed(tr.req);
    }
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
        link.textContent = t("docs.download");
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
    this.showLost(state.call ? this.lostWithTheCall() : []);
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.incoming.clear();
    this.outgoing.clear();
    this.channel = null;
    this.enable(false);
    $("scans").replaceChildren();
    this.status("");
  },

  /// Documents still on their way when the call ends are lost with it
  /// (the kiosk wipes its side): each is marked so in the call's history,
  /// and listed for the agent after the call.
  lostWithTheCall() {
    const lost = [];
    for (const [id, tr] of this.incoming) {
      // A page preview belongs to the interview, not to what the agent keeps.
      if (tr.purpose !== "scan" && tr.purpose !== "signed") continue;
      History.set(`in-${id}`, { kind: tr.purpose === "signed" ? "signed-in" : "scan", name: tr.name, outcome: "lost" });
      lost.push({ key: tr.purpose === "signed" ? "lost.signed" : "lost.scan", name: tr.name });
    }
    for (const [id, out] of this.outgoing) {
      if (out.delivered) continue;
      History.update(`out-${id}`, { outcome: "lost" });
      lost.push({ key: "lost.out", name: out.name });
    }
    return lost;
  },

  /// The notice on the idle card, until the next call starts; `[]` clears it.
  lost: [],
  showLost(lost) {
    this.lost = lost;
    let el = document.getElementById("lost-documents");
    if (lost.length === 0) return el && el.remove();
    if (!el) {
      el = document.createElement("div");
      el.id = "lost-documents";
      el.dataset.testid = "lost-documents";
      el.className = "notice";
      el.setAttribute("role", "alert");
      $("idle").append(el);
    }
    el.replaceChildren(
      ...lost.map(({ key, name }) => {
        const p = document.createElement("p");
        p.dataset.testid = "lost-document";
        p.textContent = t(key, { name });
        return p;
      }),
    );
  },
};
languageHooks.push(() => Documents.lost.length && Documents.showLost(Documents.lost));

// The agent's scan is an interview: the resident is told first (scans.js).
$("request-scan").addEventListener("click", () => Scans.start());
$("send-print").addEventListener("click", () => Documents.push($("doc-file").files[0], "print"));
$("send-show").addEventListener("click", () => Documents.push($("doc-file").files[0], "display"));

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


/// Transfer error codes (docs/protocol.md) in the agent's words.
function codeText(code, message) {
  const key = `docs.code.${code}`;
  return t(key) === key ? message || code : t(key);
}

/// The kiosk says why a print failed in a sentence, without a code: the
/// known ones are recognised, others shown as they come.
function failureText(reason) {
  if (!reason) return t("docs.unknown-reason");
  if (/no printer/i.test(reason)) return t("docs.no-printer");
  if (/printer/i.test(reason)) return t("docs.printer-refused");
  return reason;
}

/// Same for a scan: the kiosk's sentence goes in the tooltip.
function scanFailureText(reason) {
  if (reason && /no scanner/i.test(reason)) return t("docs.no-scanner");
  return t("docs.scanner-problem");
}
