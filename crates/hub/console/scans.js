// The scan interview (docs/protocol.md "The scan interview"), the scans the
// agent has not saved yet, and the call's document history. Everything
// stays in this browser: scans in IndexedDB until saved or dismissed,
// the history in this tab's sessionStorage; nothing goes to the hub.

addWords({
  fr: {
    "scan.title": "Numérisation",
    "scan.preparing": "L'usager voit et entend l'instruction : « Posez votre document… ».",
    "scan.ready": "Quand le document est posé, lancez la numérisation.",
    "scan.now": "Numériser la page {page}",
    "scan.redo": "Refaire",
    "scan.finish": "Terminer et recevoir le PDF",
    "scan.cancel": "Annuler la numérisation",
    "scan.dpi": "Résolution",
    "scan.scanning": "Numérisation de la page {page}…",
    "scan.page": "Page {page} · {size}",
    "scan.declined": "L'usager a refusé d'envoyer la page {page} : rien n'est parti de la borne.",
    "scan.consent": "L'usager vérifie la page {page} à l'écran avant l'envoi.",
    "scan.estimate": "≈ {size} par page · ≈ {time} par page sur la liaison de cette borne",
    "scan.estimate-no-rate": "≈ {size} par page",
    "scan.cancelled": "Numérisation annulée.",
    "scan.feed": "Numériser tout le chargeur",
    "scan.feeding": "La borne numérise toutes les pages du chargeur…",
    "scan.feeder-empty": "Le chargeur est vide : l'usager y place ses pages, puis relancez.",
    "scan.feeder-done": "{count} page(s) numérisée(s) depuis le chargeur.",
    "scan.feeder-limit": "{count} page(s) numérisée(s) : la limite du document (pages ou taille) est atteinte, des pages peuvent rester dans le chargeur.",
    "kept.title": "Documents reçus à enregistrer",
    "kept.none": "Aucun document en attente.",
    "kept.warning": "{count} document(s) reçu(s) pas encore enregistré(s) : ils restent ici, dans ce navigateur seulement, jusqu'à ce que vous les enregistriez ou les écartiez.",
    "kept.save": "Enregistrer",
    "kept.dismiss": "Écarter",
    "kept.storage-failed": "Ce navigateur n'a pas pu garder le document : enregistrez-le maintenant.",
    "history.title": "Historique des documents de l'appel",
    "history.print": "Envoyé à l'impression",
    "history.display": "Affiché sur la borne",
    "history.scan": "Reçu de la borne",
    "history.sending": "en cours",
    "history.printed": "imprimé",
    "history.shown": "affiché",
    "history.received": "reçu",
    "history.failed": "échec",
    "history.cancelled": "annulé",
    "history.lost": "perdu avec l'appel",
    "lost.scan": "Numérisation « {name} » perdue : l'appel s'est terminé avant qu'elle n'arrive entière. Redemandez-la si l'usager rappelle.",
    "lost.signed": "Document signé « {name} » perdu : l'appel s'est terminé avant qu'il n'arrive entier.",
    "lost.out": "« {name} » n'est pas arrivé à la borne : l'appel s'est terminé avant.",
  },
  en: {
    "scan.title": "Scan",
    "scan.preparing": "The resident sees and hears the instruction: “Place your document…”.",
    "scan.ready": "Once the document is in place, start the scan.",
    "scan.now": "Scan page {page}",
    "scan.redo": "Redo",
    "scan.finish": "Finish and receive the PDF",
    "scan.cancel": "Cancel the scan",
    "scan.dpi": "Resolution",
    "scan.scanning": "Scanning page {page}…",
    "scan.page": "Page {page} · {size}",
    "scan.declined": "The resident declined to send page {page}: nothing left the kiosk.",
    "scan.consent": "The resident checks page {page} on screen before it is sent.",
    "scan.estimate": "≈ {size} per page · ≈ {time} per page on this kiosk's link",
    "scan.estimate-no-rate": "≈ {size} per page",
    "scan.cancelled": "Scan cancelled.",
    "scan.feed": "Scan the whole feeder",
    "scan.feeding": "The kiosk is scanning every page in the feeder…",
    "scan.feeder-empty": "The feeder is empty: the resident puts the pages in it, then try again.",
    "scan.feeder-done": "{count} page(s) scanned from the feeder.",
    "scan.feeder-limit": "{count} page(s) scanned: the document's limit (pages or size) is reached, pages may be left in the feeder.",
    "kept.title": "Received documents to save",
    "kept.none": "No document waiting.",
    "kept.warning": "{count} received document(s) not saved yet: they stay here, in this browser only, until you save or dismiss them.",
    "kept.save": "Save",
    "kept.dismiss": "Dismiss",
    "kept.storage-failed": "This browser could not keep the document: save it now.",
    "history.title": "Documents of this call",
    "history.print": "Sent to print",
    "history.display": "Shown on the kiosk",
    "history.scan": "Received from the kiosk",
    "history.sending": "in progress",
    "history.printed": "printed",
    "history.shown": "shown",
    "history.received": "received",
    "history.failed": "failed",
    "history.cancelled": "cancelled",
    "history.lost": "lost with the call",
    "lost.scan": "Scan “{name}” lost: the call ended before it arrived whole. Ask for it again if the resident calls back.",
    "lost.signed": "Signed document “{name}” lost: the call ended before it arrived whole.",
    "lost.out": "“{name}” did not reach the kiosk: the call ended first.",
  },
});

/// Bytes of one A4 page as the kiosk's JPEG, grey at 150 dpi, before the
/// kiosk has told us a real size (SANE's test backend gives ~0.4 bit/pixel;
/// paperwork is similar). Colour costs about twice grey.
const GREY_150_PAGE_BYTES = 110 * 1024;

const Scans = {
  req: null,
  ready: false,
  rate: null, // bytes/s the kiosk sends documents at, from scan_ready
  busy: null, // page being scanned
  feeder: false, // the kiosk's scanner has a document feeder (scan_ready)
  feeding: false, // a scan_feed is running: pages come until scan_feed_done
  pages: new Map(), // page -> { size, li }
  previews: new Map(), // preview transfer id -> page
  sample: null, // { bytes, dpi, color } of the last page, for estimates

  settings() {
    const color = document.querySelector('input[name="scan-mode"]:checked').value === "grey" ? "gray" : "color";
    return { color, dpi: Number($("scan-dpi").value) };
  },

  start() {
    if (this.req !== null) this.cancel();
    this.req = Documents.nextReq++;
    this.ready = false;
    this.feeder = false;
    this.feeding = false;
    this.pages.clear();
    this.previews.clear();
    $("scan-pages").replaceChildren();
    $("scan-interview").hidden = false;
    Documents.sendControl({ type: "scan_prepare", req: this.req });
    this.step(t("scan.preparing"));
    this.render();
  },

  scanPage(page) {
    if (this.req === null || this.busy !== null) return;
    this.busy = page;
    Documents.sendControl({ type: "scan_page", req: this.req, page, ...this.settings() });
    this.step(t("scan.scanning", { page }));
    this.render();
  },

  /// Every page in the kiosk's feeder, numbered after the last page held.
  feedAll() {
    if (this.req === null || this.busy !== null || this.feeding || !this.feeder) return;
    this.feeding = true;
    const page = Math.max(0, ...this.pages.keys()) + 1;
    Documents.sendControl({ type: "scan_feed", req: this.req, page, ...this.settings() });
    this.step(t("scan.feeding"));
    this.render();
  },

  finish() {
    if (this.req === null || this.pages.size === 0) return;
    Documents.sendControl({ type: "scan_finish", req: this.req });
    this.close();
  },

  cancel() {
    if (this.req !== null) Documents.sendControl({ type: "scan_cancel", req: this.req });
    this.close();
    Documents.status(t("scan.cancelled"));
  },

  close() {
    this.req = null;
    this.busy = null;
    this.feeding = false;
    $("scan-interview").hidden = true;
  },

  nextPage() {
    let n = 1;
    while (this.pages.has(n)) n++;
    return n;
  },

  step(text) {
    $("scan-step").textContent = text;
  },

  render() {
    const idle = this.req !== null && this.ready && this.busy === null && !this.feeding;
    $("scan-now").textContent = t("scan.now", { page: this.nextPage() });
    $("scan-now").disabled = !idle;
    $("scan-feed").hidden = !this.feeder;
    $("scan-feed").disabled = !idle;
    $("scan-finish").disabled = !idle || this.pages.size === 0;
    for (const [page, p] of this.pages) p.redo.disabled = !idle;
    this.estimate();
  },

  /// Expected bytes and seconds per page at the chosen settings: from the
  /// last real page when there is one, else from our measured default.
  estimate() {
    const { color, dpi } = this.settings();
    const colorFactor = (c) => (c === "color" ? 2 : 1);
    const base = this.sample || { bytes: GREY_150_PAGE_BYTES, dpi: 150, color: "gray" };
    const bytes = (base.bytes * (dpi / base.dpi) ** 2 * colorFactor(color)) / colorFactor(base.color);
    const el = $("scan-estimate");
    el.dataset.bytes = String(Math.round(bytes));
    if (this.rate) {
      const secs = Math.max(1, Math.round(bytes / this.rate));
      el.dataset.seconds = String(secs);
      el.textContent = t("scan.estimate", { size: formatSize(bytes), time: secs >= 60 ? `${Math.round(secs / 60)} min` : `${secs} s` });
    } else {
      delete el.dataset.seconds;
      el.textContent = t("scan.estimate-no-rate", { size: formatSize(bytes) });
    }
  },

  /// Messages of the interview; true when handled here. An `offer` of the
  /// finished scan is renamed (service, date, number) and left to Documents.
  onControl(msg) {
    if (msg.req === undefined || msg.req !== this.req) {
      if (msg.type === "offer" && msg.purpose === "scan") msg.name = Kept.nameFor();
      return false;
    }
    switch (msg.type) {
      case "scan_ready":
        this.ready = true;
        this.rate = msg.rate || null;
        this.feeder = msg.feeder === true;
        this.step(t("scan.ready"));
        this.render();
        return true;
      case "scan_page_done": {
        const { page, size } = msg;
        this.previews.set(msg.id, page);
        this.sample = { bytes: size, ...this.settings() };
        this.place(page, size);
        const pending = Documents.incoming.get(msg.id);
        if (pending) pending.item.page = page;
        // The feeder's pages keep coming until scan_feed_done.
        if (!this.feeding) {
          this.busy = null;
          this.step(t("scan.ready"));
          Documents.status("");
        }
        this.render();
        return true;
      }
      case "scan_feed_done": {
        this.feeding = false;
        const count = msg.pages || 0;
        // An empty feeder is not a fault: the resident loads it and the agent tries again.
        this.step(count === 0 ? t("scan.feeder-empty") : t(msg.limit ? "scan.feeder-limit" : "scan.feeder-done", { count }));
        Documents.status("");
        this.render();
        return true;
      }
      case "scan_declined":
        this.busy = null;
        this.step(t("scan.declined", { page: msg.page }));
        this.render();
        return true;
      case "scan_failed":
        // A jam mid-feeder keeps the pages already shown.
        this.busy = null;
        this.feeding = false;
        this.render();
        return false;
      case "offer":
        if (msg.purpose === "scan_preview") {
          Documents.incoming.set(msg.id, { ...msg, parts: [], held: 0, lastAck: 0, item: this.previewItem(msg.id) });
          Documents.sendControl({ type: "accept", id: msg.id, offset: 0 });
          return true;
        }
        if (msg.purpose === "scan") msg.name = Kept.nameFor();
        return false;
      default:
        return false;
    }
  },

  /// The page's row (made once; a redo replaces its picture and size).
  place(page, size) {
    let p = this.pages.get(page);
    if (!p) {
      const li = document.createElement("li");
      li.dataset.testid = "scan-page";
      li.dataset.page = String(page);
      const img = document.createElement("img");
      img.alt = t("scan.page", { page, size: "" });
      const label = document.createElement("span");
      const redo = document.createElement("button");
      redo.className = "quiet";
      redo.dataset.testid = `scan-redo-${page}`;
      redo.textContent = t("scan.redo");
      redo.addEventListener("click", () => this.scanPage(page));
      li.append(img, label, redo);
      const after = [...$("scan-pages").children].find((o) => Number(o.dataset.page) > page);
      $("scan-pages").insertBefore(li, after || null);
      p = { li, img, label, redo };
      this.pages.set(page, p);
    }
    p.label.textContent = t("scan.page", { page, size: formatSize(size) });
    p.li.dataset.size = String(size);
  },

  /// What Documents.finish calls when a preview is in: the picture goes
  /// to its page's row.
  previewItem(id) {
    const scans = this;
    return {
      page: scans.previews.get(id),
      li: { remove() {} },
      progress: { value: 0 },
      done(url) {
        const page = this.page ?? scans.previews.get(id);
        const p = scans.pages.get(page);
        if (!p) return;
        p.img.src = url;
        p.li.dataset.preview = String(id);
      },
    };
  },
};

/// Received scans, kept in IndexedDB on this machine until saved or dismissed.
const Kept = {
  db: null,
  items: new Map(), // key -> { name, size, sha256, time, blob, url, li }

  open() {
    if (this.db) return Promise.resolve(this.db);
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("visio-kept-scans", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("scans", { keyPath: "key", autoIncrement: true });
      request.onsuccess = () => resolve((this.db = request.result));
      request.onerror = () => reject(request.error);
    });
  },

  store(mode) {
    return this.db.transaction("scans", mode).objectStore("scans");
  },

  /// "caf-2026-12-06-3.pdf": the service, the day, and the day's number
  /// for that service on this machine.
  nameFor() {
    const service = (state.call && state.call.service) || "scan";
    const day = new Date().toISOString().slice(0, 10);
    const key = `visio.scan-seq.${service}.${day}`;
    const n = Number(localStorage.getItem(key) || "0") + 1;
    localStorage.setItem(key, String(n));
    return `${service}-${day}-${n}.pdf`;
  },

  async add(name, blob, sha256) {
    const record = { name, size: blob.size, sha256, time: Date.now(), blob };
    try {
      await this.open();
      const key = await new Promise((resolve, reject) => {
        const request = this.store("readwrite").add(record);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      this.show({ ...record, key });
    } catch {
      // Still offered to save, in memory only.
      this.show({ ...record, key: `mem-${Date.now()}` });
      Documents.status(t("kept.storage-failed"), "error");
    }
  },

  async load() {
    try {
      await this.open();
      const all = await new Promise((resolve, reject) => {
        const request = this.store("readonly").getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      for (const record of all) this.show(record);
    } catch {
      // No IndexedDB (private window): scans live with the page only.
    }
    this.render();
  },

  show(record) {
    const li = document.createElement("li");
    li.dataset.testid = "kept-scan";
    li.dataset.sha256 = record.sha256;
    li.dataset.name = record.name;
    const url = URL.createObjectURL(record.blob);
    const label = document.createElement("span");
    label.textContent = `${record.name} · ${formatSize(record.size)} · ${new Date(record.time).toLocaleTimeString(lang)}`;
    const save = document.createElement("a");
    save.href = url;
    save.download = record.name;
    save.textContent = t("kept.save");
    save.dataset.testid = "kept-save";
    save.className = "button";
    // Saved by the browser's download: it is in the agent's files now.
    save.addEventListener("click", () => setTimeout(() => this.forget(record.key), 1000));
    const dismiss = document.createElement("button");
    dismiss.className = "quiet";
    dismiss.dataset.testid = "kept-dismiss";
    dismiss.textContent = t("kept.dismiss");
    dismiss.addEventListener("click", () => this.forget(record.key));
    li.append(label, save, dismiss);
    $("kept-list").append(li);
    this.items.set(record.key, { ...record, url, li });
    this.render();
  },

  async forget(key) {
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    item.li.remove();
    URL.revokeObjectURL(item.url);
    if (this.db && typeof key === "number") this.store("readwrite").delete(key);
    this.render();
  },

  /// Shown outside calls: during one, the call's own list and history
  /// hold its scans, and the call keeps the room it needs.
  render() {
    const count = this.items.size;
    $("kept").hidden = count === 0 || !!state.call;
    $("kept-warning").textContent = count ? t("kept.warning", { count }) : "";
  },
};

/// The call's documents, newest last: what, when, and what became of it.
const History = {
  KEY: "visio.doc-history",
  entries: [],
  session: null,

  load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.KEY));
      if (saved && state.call && saved.session === state.call.session) {
        this.session = saved.session;
        this.entries = saved.entries;
      }
    } catch {
      this.entries = [];
    }
    this.render();
  },

  /// Adds or updates the entry `key` of the current call.
  set(key, fields) {
    const session = state.call ? state.call.session : null;
    if (session !== this.session) {
      this.session = session;
      this.entries = [];
    }
    const old = this.entries.find((e) => e.key === key);
    if (old) Object.assign(old, fields, { updated: Date.now() });
    else this.entries.push({ key, time: Date.now(), ...fields });
    sessionStorage.setItem(this.KEY, JSON.stringify({ session: this.session, entries: this.entries }));
    this.render();
  },

  /// Updates an entry only if it exists (errors about unknown transfers).
  update(key, fields) {
    if (this.entries.some((e) => e.key === key)) this.set(key, fields);
  },

  render() {
    const list = $("history-list");
    list.replaceChildren(
      ...this.entries.map((e) => {
        const li = document.createElement("li");
        li.dataset.testid = "history-item";
        li.dataset.kind = e.kind;
        li.dataset.outcome = e.outcome;
        const time = new Date(e.updated || e.time).toLocaleTimeString(lang);
        li.textContent = `${time} · ${t(`history.${e.kind}`)} · ${e.name} · ${t(`history.${e.outcome}`)}`;
        if (e.reason) li.title = e.reason;
        return li;
      }),
    );
    $("history").hidden = this.entries.length === 0;
  },
};

$("scan-now").addEventListener("click", () => Scans.scanPage(Scans.nextPage()));
$("scan-feed").addEventListener("click", () => Scans.feedAll());
$("scan-finish").addEventListener("click", () => Scans.finish());
$("scan-cancel").addEventListener("click", () => Scans.cancel());
$("scan-dpi").addEventListener("change", () => Scans.estimate());
for (const radio of document.querySelectorAll('input[name="scan-mode"]')) radio.addEventListener("change", () => Scans.estimate());

// Nothing received is lost by closing or reloading the page unawares.
window.addEventListener("beforeunload", (event) => {
  if (Kept.items.size === 0) return;
  event.preventDefault();
  event.returnValue = "";
});
languageHooks.push(() => {
  Kept.render();
  History.render();
  Scans.render();
});
Kept.load();
