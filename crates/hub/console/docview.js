// The document shown on the kiosk, driven from here: page, zoom, pan and a
// pointer the resident sees (the resident touches nothing). The view
// travels on the call's documents channel (`view` out, `view_shown` back,
// docs/protocol.md), never through the hub. Built on documents.js: its
// control messages and its end of call are wrapped, not changed.

addWords({
  fr: {
    "view.title": "Ce que voit l'usager",
    "view.help": "Cliquez sur la page pour montrer un endroit à l'usager ; faites glisser pour déplacer la vue.",
    "view.previous": "Page précédente",
    "view.next": "Page suivante",
    "view.page": "Page {page} sur {pages}",
    "view.zoom-in": "Agrandir",
    "view.zoom-out": "Réduire",
    "view.zoom": "{zoom} %",
    "view.pointer-off": "Masquer le pointeur",
    "view.thumb": "Aperçu de la page affichée sur la borne",
  },
  en: {
    "view.title": "What the resident sees",
    "view.help": "Click on the page to show the resident a place; drag to move the view.",
    "view.previous": "Previous page",
    "view.next": "Next page",
    "view.page": "Page {page} of {pages}",
    "view.zoom-in": "Zoom in",
    "view.zoom-out": "Zoom out",
    "view.zoom": "{zoom} %",
    "view.pointer-off": "Hide the pointer",
    "view.thumb": "Picture of the page shown on the kiosk",
  },
});

const ZOOMS = [100, 150, 200, 300, 400];
// Pans and pointer moves go out at most this often while dragging.
const VIEW_EVERY_MS = 100;

const DocView = {
  shown: null, // { id, pages, view } as the kiosk last told
  el: {},
  pending: null,
  timer: null,

  build() {
    const make = (tag, props = {}) => Object.assign(document.createElement(tag), props);
    const button = (testid, key) => {
      const b = make("button", { type: "button", textContent: t(key) });
      b.dataset.testid = testid;
      b.dataset.i18n = key;
      return b;
    };
    const box = make("div", { hidden: true, className: "docview" });
    box.dataset.testid = "docview";
    const title = make("h4", { textContent: t("view.title") });
    title.dataset.i18n = "view.title";
    const thumb = make("div", { className: "thumb" });
    thumb.dataset.testid = "view-thumb";
    const img = make("img", { alt: t("view.thumb"), draggable: false });
    const pointer = make("div", { className: "pointer" });
    pointer.dataset.testid = "view-pointer";
    thumb.append(img, pointer);
    const prev = button("view-prev", "view.previous");
    const next = button("view-next", "view.next");
    const page = make("span", { role: "status" });
    page.dataset.testid = "view-page";
    const out = button("view-zoom-out", "view.zoom-out");
    const zoom = make("span");
    zoom.dataset.testid = "view-zoom";
    const into = button("view-zoom-in", "view.zoom-in");
    const off = button("view-pointer-off", "view.pointer-off");
    const pages = make("div", { className: "pages" });
    pages.append(prev, " ", page, " ", next);
    const zooms = make("div", { className: "pages" });
    // The zoom and the pointer on one line: the call must fit 1366x768.
    zooms.append(out, " ", zoom, " ", into, " ", off);
    const help = make("p", { className: "muted", textContent: t("view.help") });
    help.dataset.i18n = "view.help";
    const controls = make("div", { className: "controls" });
    controls.append(title, pages, zooms, help);
    box.append(thumb, controls);
    $("doc-status").after(box);
    Object.assign(this.el, { box, thumb, img, pointer, prev, next, page, pages, out, zoom, into, off });

    prev.addEventListener("click", () => this.turn(-1));
    next.addEventListener("click", () => this.turn(1));
    into.addEventListener("click", () => this.zoomBy(1));
    out.addEventListener("click", () => this.zoomBy(-1));
    off.addEventListener("click", () => this.change({ pointer: null }, true));
    this.listenToThumb(thumb);
    languageHooks.push(() => this.render());
  },

  /// A click points; a drag moves the view (the centre follows the mouse).
  listenToThumb(thumb) {
    let down = null;
    const at = (event) => {
      const r = thumb.getBoundingClientRect();
      const clamp = (v) => Math.max(0, Math.min(1000, Math.round(v)));
      return { x: clamp(((event.clientX - r.left) / r.width) * 1000), y: clamp(((event.clientY - r.top) / r.height) * 1000) };
    };
    thumb.addEventListener("pointerdown", (event) => {
      down = { x: event.clientX, y: event.clientY, dragging: false };
      try {
        thumb.setPointerCapture(event.pointerId);
      } catch {
        // a pointer the browser no longer tracks: the drag ends at the edge
      }
    });
    thumb.addEventListener("pointermove", (event) => {
      if (!down) return;
      if (Math.hypot(event.clientX - down.x, event.clientY - down.y) > 4) down.dragging = true;
      if (down.dragging) this.change({ center: at(event) }, false);
    });
    thumb.addEventListener("pointerup", (event) => {
      // Pointing also brings the place into the resident's view.
      if (down && !down.dragging) this.change({ pointer: at(event), center: at(event) }, true);
      if (down && down.dragging) this.change({ center: at(event) }, true);
      down = null;
    });
  },

  turn(step) {
    if (!this.shown) return;
    const page = Math.max(1, Math.min(this.shown.pages, this.shown.view.page + step));
    // A new page starts at its top, fit to width, as on the kiosk.
    this.change({ page, zoom: 100, center: { x: 500, y: 0 }, pointer: null }, true);
  },

  zoomBy(step) {
    if (!this.shown) return;
    const now = this.shown.view.zoom;
    const i = ZOOMS.findIndex((z) => z >= now);
    const next = ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, (i < 0 ? ZOOMS.length - 1 : i) + step))];
    this.change({ zoom: next }, true);
  },

  /// Changes the view here at once and sends it (now, or with the next
  /// batch while dragging).
  change(part, now) {
    if (!this.shown) return;
    this.shown.view = { ...this.shown.view, ...part };
    this.render();
    this.pending = this.shown.view;
    if (now) return this.flush();
    if (!this.timer) this.timer = setTimeout(() => this.flush(), VIEW_EVERY_MS);
  },

  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending || !this.shown) return;
    const v = this.pending;
    this.pending = null;
    const msg = { type: "view", id: this.shown.id, page: v.page, zoom: v.zoom, center: v.center };
    if (v.pointer) msg.pointer = v.pointer;
    Documents.sendControl(msg);
  },

  /// The kiosk's word on what the resident sees.
  onShown(msg) {
    if (!this.el.box) this.build();
    const view = { page: msg.page, zoom: msg.zoom, center: msg.center, pointer: msg.pointer || null };
    const fresh = !this.shown || this.shown.id !== msg.id;
    // While a change of ours is on its way, ours is newer than the kiosk's.
    this.shown = { id: msg.id, pages: msg.pages, view: fresh || !this.pending ? view : this.shown.view, told: view };
    if (msg.thumbnail && msg.thumbnail.startsWith("data:image/jpeg;base64,")) {
      this.el.img.src = msg.thumbnail;
      this.el.img.dataset.page = String(msg.page);
    }
    this.el.box.dataset.kioskPage = String(msg.page);
    this.el.box.dataset.kioskZoom = String(msg.zoom);
    this.el.box.dataset.kioskPointer = msg.pointer ? `${msg.pointer.x},${msg.pointer.y}` : "";
    this.render();
  },

  render() {
    const s = this.shown;
    if (!s || !this.el.box) return;
    const { box, img, pointer, prev, next, page, pages, zoom, out, into } = this.el;
    box.hidden = false;
    img.alt = t("view.thumb");
    // Page controls only when there is more than one page.
    pages.hidden = s.pages <= 1;
    page.textContent = t("view.page", { page: s.view.page, pages: s.pages });
    prev.disabled = s.view.page <= 1;
    next.disabled = s.view.page >= s.pages;
    zoom.textContent = t("view.zoom", { zoom: s.view.zoom });
    out.disabled = s.view.zoom <= ZOOMS[0];
    into.disabled = s.view.zoom >= ZOOMS[ZOOMS.length - 1];
    if (s.view.pointer) {
      pointer.style.display = "block";
      pointer.style.left = `${s.view.pointer.x / 10}%`;
      pointer.style.top = `${s.view.pointer.y / 10}%`;
    } else {
      pointer.style.display = "none";
    }
  },

  release() {
    clearTimeout(this.timer);
    Object.assign(this, { shown: null, pending: null, timer: null });
    if (this.el.box) {
      this.el.box.hidden = true;
      this.el.img.removeAttribute("src");
    }
  },
};

{
  const onControl = Documents.onControl;
  Documents.onControl = function (msg) {
    if (msg && msg.type === "view_shown") return DocView.onShown(msg);
    return onControl.call(this, msg);
  };
  const release = Documents.release;
  Documents.release = function () {
    DocView.release();
    return release.call(this);
  };
}
