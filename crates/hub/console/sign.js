// A document the resident signs at the kiosk: the agent sends a PDF
// (purpose "sign"), the kiosk shows its last page with a box and says so
// (`sign_shown`, with a picture of the page); the agent moves the box with
// the mouse or the keyboard (`sign_box`, docs/protocol.md). The signed PDF
// comes back like a scan (purpose "signed", documents.js); a refusal is the
// outcome "refused". Built on documents.js: its control messages, enabling
// and end of call are wrapped, not changed.

addWords({
  fr: {
    "sign.send": "Faire signer",
    "sign.pdf-only": "Seul un PDF se signe à la borne : choisissez un PDF.",
    "sign.title": "Signature à la borne",
    "sign.help": "Faites glisser le cadre, ou cliquez sur la page pour l'y placer. Au clavier : flèches pour déplacer le cadre, Maj + flèches pour changer sa taille.",
    "sign.box": "Cadre de signature, page {page} : flèches pour le déplacer, Maj + flèches pour changer sa taille",
    "sign.page": "Cadre en page {page} sur {pages}",
    "sign.previous": "Cadre page précédente",
    "sign.next": "Cadre page suivante",
    "sign.thumb": "Page à signer, telle que la borne la montre, avec le cadre",
    "sign.waiting": "L'usager signe dans le cadre sur la borne.",
    "sign.refused": "L'usager n'a pas signé « {name} ».",
    "history.sign": "Envoyé pour signature",
    "history.signed-in": "Document signé reçu",
    "history.signed": "signé",
    "history.refused": "non signé",
  },
  en: {
    "sign.send": "Have it signed",
    "sign.pdf-only": "Only a PDF can be signed at the kiosk: choose a PDF.",
    "sign.title": "Signing at the kiosk",
    "sign.help": "Drag the box, or click on the page to put it there. Keyboard: arrows move the box, Shift + arrows change its size.",
    "sign.box": "Signature box, page {page}: arrows move it, Shift + arrows change its size",
    "sign.page": "Box on page {page} of {pages}",
    "sign.previous": "Box on previous page",
    "sign.next": "Box on next page",
    "sign.thumb": "Page to sign, as the kiosk shows it, with the box",
    "sign.waiting": "The resident signs in the box at the kiosk.",
    "sign.refused": "The resident did not sign “{name}”.",
    "history.sign": "Sent for signature",
    "history.signed-in": "Signed document received",
    "history.signed": "signed",
    "history.refused": "not signed",
  },
});

// Keyboard steps, in thousandths of the page.
const SIGN_STEP = 20;
const SIGN_MIN = { width: 100, height: 40 };
const SIGN_EVERY_MS = 100;

const SignView = {
  doc: null, // { id, pages, area } as last placed here
  el: {},
  pending: false,
  timer: null,

  build() {
    const make = (tag, props = {}) => Object.assign(document.createElement(tag), props);
    const button = (testid, key) => {
      const b = make("button", { type: "button", textContent: t(key) });
      b.dataset.testid = testid;
      b.dataset.i18n = key;
      return b;
    };
    const box = make("div", { hidden: true, className: "docview signview" });
    box.dataset.testid = "signview";
    const title = make("h4", { textContent: t("sign.title") });
    title.dataset.i18n = "sign.title";
    const thumb = make("div", { className: "thumb" });
    thumb.dataset.testid = "sign-thumb";
    const img = make("img", { alt: t("sign.thumb"), draggable: false });
    const frame = make("div", { className: "sign-box", tabIndex: 0 });
    frame.setAttribute("role", "application");
    frame.dataset.testid = "sign-box";
    thumb.append(img, frame);
    const prev = button("sign-prev", "sign.previous");
    const next = button("sign-next", "sign.next");
    const page = make("span", { role: "status" });
    page.dataset.testid = "sign-page";
    const pages = make("div", { className: "pages" });
    pages.append(prev, " ", page, " ", next);
    const waiting = make("p", { textContent: t("sign.waiting") });
    waiting.dataset.i18n = "sign.waiting";
    const help = make("p", { className: "muted", textContent: t("sign.help") });
    help.dataset.i18n = "sign.help";
    const controls = make("div", { className: "controls" });
    // The title beside the page, not above it: the call must fit 1366x768.
    controls.append(title, pages, waiting, help);
    box.append(thumb, controls);
    $("doc-status").after(box);
    Object.assign(this.el, { box, thumb, img, frame, prev, next, page, pages });
    prev.addEventListener("click", () => this.turn(-1));
    next.addEventListener("click", () => this.turn(1));
    frame.addEventListener("keydown", (event) => this.key(event));
    this.listen(thumb, frame);
    languageHooks.push(() => this.render());
  },

  /// Dragging the box moves it; a click elsewhere on the page puts its
  /// middle there.
  listen(thumb, frame) {
    let drag = null;
    const at = (event) => {
      const r = thumb.getBoundingClientRect();
      return { x: ((event.clientX - r.left) / r.width) * 1000, y: ((event.clientY - r.top) / r.height) * 1000 };
    };
    thumb.addEventListener("pointerdown", (event) => {
      if (!this.doc) return;
      const p = at(event);
      const a = this.doc.area;
      if (event.target !== frame) this.move(p.x - a.width / 2, p.y - a.height / 2, false);
      drag = { dx: p.x - this.doc.area.x, dy: p.y - this.doc.area.y };
      try {
        thumb.setPointerCapture(event.pointerId);
      } catch {
        // a pointer the browser no longer tracks: the drag ends at the edge
      }
      event.preventDefault();
      frame.focus();
    });
    thumb.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const p = at(event);
      this.move(p.x - drag.dx, p.y - drag.dy, false);
    });
    thumb.addEventListener("pointerup", () => {
      if (drag) this.flush();
      drag = null;
    });
  },

  key(event) {
    if (!this.doc) return;
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const step = arrows[event.key];
    if (!step) return;
    event.preventDefault();
    const a = this.doc.area;
    if (event.shiftKey) this.resize(a.width + step[0] * SIGN_STEP, a.height - step[1] * SIGN_STEP);
    else this.move(a.x + step[0] * SIGN_STEP, a.y + step[1] * SIGN_STEP, true);
  },

  /// The box at (x, y), kept on the page; sent now or with the next batch.
  move(x, y, now) {
    const a = this.doc.area;
    const clamp = (v, size) => Math.round(Math.max(0, Math.min(1000 - size, v)));
    this.change({ ...a, x: clamp(x, a.width), y: clamp(y, a.height) }, now);
  },

  resize(width, height) {
    const a = this.doc.area;
    const w = Math.max(SIGN_MIN.width, Math.min(1000 - a.x, width));
    const h = Math.max(SIGN_MIN.height, Math.min(1000 - a.y, height));
    this.change({ ...a, width: w, height: h }, true);
  },

  turn(step) {
    if (!this.doc) return;
    const page = Math.max(1, Math.min(this.doc.pages, this.doc.area.page + step));
    this.change({ ...this.doc.area, page }, true);
  },

  change(area, now) {
    this.doc.area = area;
    this.render();
    this.pending = true;
    if (now) return this.flush();
    if (!this.timer) this.timer = setTimeout(() => this.flush(), SIGN_EVERY_MS);
  },

  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending || !this.doc) return;
    this.pending = false;
    Documents.sendControl({ type: "sign_box", id: this.doc.id, ...this.doc.area });
  },

  /// The kiosk's word on what the resident sees.
  onShown(msg) {
    if (!this.el.box) this.build();
    const area = { page: msg.page, x: msg.x, y: msg.y, width: msg.width, height: msg.height };
    const fresh = !this.doc || this.doc.id !== msg.id;
    // While a move of ours is on its way, ours is newer than the kiosk's.
    this.doc = { id: msg.id, pages: msg.pages, area: fresh || !this.pending ? area : this.doc.area };
    if (msg.thumbnail && msg.thumbnail.startsWith("data:image/jpeg;base64,")) {
      this.el.img.src = msg.thumbnail;
      this.el.img.dataset.page = String(msg.page);
    }
    this.el.box.dataset.kioskPage = String(msg.page);
    this.el.box.dataset.kioskBox = `${msg.x},${msg.y},${msg.width},${msg.height}`;
    this.render();
  },

  render() {
    const d = this.doc;
    if (!d || !this.el.box) return;
    const { box, img, frame, prev, next, page, pages } = this.el;
    box.hidden = false;
    img.alt = t("sign.thumb");
    pages.hidden = d.pages <= 1;
    page.textContent = t("sign.page", { page: d.area.page, pages: d.pages });
    prev.disabled = d.area.page <= 1;
    next.disabled = d.area.page >= d.pages;
    // The box shows on the picture of its own page (the kiosk sends it
    // once it has drawn that page).
    frame.hidden = img.dataset.page !== String(d.area.page);
    Object.assign(frame.style, { left: `${d.area.x / 10}%`, top: `${d.area.y / 10}%`, width: `${d.area.width / 10}%`, height: `${d.area.height / 10}%` });
    frame.setAttribute("aria-label", t("sign.box", { page: d.area.page }));
  },

  /// Document `id` is signed, refused or failed: nothing more to place.
  ended(id) {
    if (this.doc && this.doc.id === id) this.release();
  },

  signed(id) {
    this.ended(id);
  },

  release() {
    clearTimeout(this.timer);
    Object.assign(this, { doc: null, pending: false, timer: null });
    if (this.el.box) {
      this.el.box.hidden = true;
      this.el.img.removeAttribute("src");
      delete this.el.img.dataset.page;
    }
  },
};

{
  const onControl = Documents.onControl;
  Documents.onControl = function (msg) {
    if (msg && msg.type === "sign_shown") return SignView.onShown(msg);
    return onControl.call(this, msg);
  };
  const release = Documents.release;
  Documents.release = function () {
    SignView.release();
    return release.call(this);
  };
  const enable = Documents.enable;
  Documents.enable = function (on) {
    $("send-sign").disabled = !on;
    return enable.call(this, on);
  };
}

$("send-sign").addEventListener("click", () => {
  const file = $("doc-file").files[0];
  // The kiosk would refuse it at the offer; say so before anything is sent.
  if (file && file.type !== "application/pdf" && !/\.pdf$/i.test(file.name)) return Documents.status(t("sign.pdf-only"), "error");
  Documents.push(file, "sign");
});
