// What the hub's browser pages (/agent/, /admin/, /host/, /supervision/,
// /guest/) share, served as /common/page.js before each page's own script:
// `$`, `el`, the shared words, the sign-in (an admin console account, or an
// agent's on /agent/), the header (who is signed in, sign-out, the language
// switch), the notice line, and the page's socket, opened again after a
// cut. Plain JavaScript, no build step, no inline code (the hub's
// Content-Security-Policy forbids it). The markup these work on
// is crates/hub/common/page.html. A page adds its words with addWords() and
// starts with startPage({...}) once its own functions are defined.
"use strict";

/// The protocol version the pages' sockets speak (the hub checks it).
const PROTOCOL = 2;

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

// French first; English from the same keys. Each page adds its own words
// (addWords) over these. Elements with data-i18n take their text from
// here; code takes it through t(key, params).
const WORDS = {
  fr: {
    "who.logout": "Se déconnecter",
    "login.user": "Identifiant",
    "login.password": "Mot de passe",
    "login.submit": "Se connecter",
    "login.401": "Identifiant ou mot de passe non reconnu.",
    "login.429": "Trop d'essais manqués : réessayez dans {seconds} s.",
    "login.400": "Saisissez votre identifiant et votre mot de passe.",
    "login.500": "Le service n'a pas pu vérifier le mot de passe ; réessayez.",
    "login.other": "Connexion refusée (code {status}).",
    "login.network": "Le service est injoignable ; vérifiez la connexion réseau.",
    "link.lost": "Liaison avec le serveur perdue ; nouvelle tentative…",
    // A kiosk's device fault by its code (visio_protocol::fault).
    "fault.camera.not_found": "Caméra introuvable (débranchée ?)",
    "fault.camera.not_started": "La caméra ne démarre pas",
    "fault.camera.no_picture": "La caméra ne donne pas d'image",
    "fault.camera.black": "Image noire (objectif caché ?)",
    "fault.microphone.not_started": "Le micro ne démarre pas",
    "fault.microphone.no_sound": "Le micro ne donne aucun son",
    "fault.microphone.silent": "Le micro ne capte aucun son (coupé ou débranché)",
    "fault.speaker.not_started": "Le son ne s'ouvre pas",
    "fault.speaker.no_output": "Ni haut-parleur ni combiné trouvé",
  },
  en: {
    "who.logout": "Sign out",
    "login.user": "Login",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.401": "Login or password not recognised.",
    "login.429": "Too many failed attempts: try again in {seconds} s.",
    "login.400": "Enter your login and password.",
    "login.500": "The service could not check the password; try again.",
    "login.other": "Sign-in refused (code {status}).",
    "login.network": "The service cannot be reached; check the network connection.",
    "link.lost": "Connection to the server lost; trying again…",
    "fault.camera.not_found": "Camera not found (unplugged?)",
    "fault.camera.not_started": "The camera does not start",
    "fault.camera.no_picture": "The camera gives no picture",
    "fault.camera.black": "Black picture (lens covered?)",
    "fault.microphone.not_started": "The microphone does not start",
    "fault.microphone.no_sound": "The microphone gives no sound",
    "fault.microphone.silent": "The microphone picks up no sound (muted or unplugged)",
    "fault.speaker.not_started": "The sound output does not open",
    "fault.speaker.no_output": "No loudspeaker or handset found",
  },
};

function addWords(words) {
  for (const l of Object.keys(WORDS)) Object.assign(WORDS[l], words[l]);
}

let lang = "fr";

function t(key, params) {
  let text = WORDS[lang][key] || WORDS.fr[key] || key;
  for (const [name, value] of Object.entries(params || {})) text = text.split("{" + name + "}").join(String(value));
  return text;
}

/// Static texts of the page, in the current language.
function applyWords() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
}

/// The signed-in account, the page's socket, and what startPage was given.
const page = { me: null, ws: null, options: null };

function showLogin(message) {
  const o = page.options;
  page.me = null;
  if (page.ws) page.ws.close();
  if (o.signedOut) o.signedOut();
  for (const id of ["who", ...o.views]) if ($(id)) $(id).hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-user").focus();
}

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  // Still inside the person's gesture (what a browser asks before sound).
  if (page.options.gesture) page.options.gesture();
  let response;
  let body = null;
  try {
    response = await fetch(`${page.options.api}/login`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ login: $("login-user").value, password: $("login-password").value }),
    });
    body = await response.json().catch(() => null);
  } catch (_) {
    $("login-error").textContent = t("login.network");
    return;
  }
  if (response.ok) {
    $("login-password").value = "";
    signedIn(body);
    return;
  }
  $("login-error").textContent = loginErrorText(response, body);
}

/// The hub's sign-in refusals carry an English sentence and no code: the
/// HTTP status tells which one it is (a wait from Retry-After, or else the
/// sentence's "N s").
function loginErrorText(response, body) {
  const status = response.status;
  if (status === 429) {
    const said = /(\d+) s/.exec((body && body.error) || "");
    return t("login.429", { seconds: response.headers.get("retry-after") || (said ? said[1] : "60") });
  }
  if (status === 400 || status === 401) return t("login." + status);
  if (status >= 500) return t("login.500");
  return t("login.other", { status });
}

function signedIn(me) {
  const o = page.options;
  if (o.roles && !o.roles.includes(me.role)) return showLogin(t("login.role"));
  page.me = me;
  $("login").hidden = true;
  $("who").hidden = false;
  $("who-name").textContent = o.who ? o.who(me) : me.display_name;
  if (o.signedIn) o.signedIn(me);
  if (o.socket) connect();
}

/// The page's socket: a hello, then the hub's messages to the page's
/// `received`. Lost, it comes back every 3 s while the account is signed
/// in; signed out elsewhere (or `refused` names why the account cannot
/// have it), the sign-in shows instead.
function connect() {
  const { path, received, refused } = page.options.socket;
  const ws = new WebSocket(`wss://${location.host}${path}`);
  page.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol: PROTOCOL }));
  ws.onmessage = (event) => received(JSON.parse(event.data));
  ws.onclose = async () => {
    if (page.ws !== ws || !page.me) return;
    const me = await fetch(`${page.options.api}/me`, { credentials: "same-origin" }).catch(() => null);
    if (me && me.status === 401) return showLogin();
    const why = me && me.ok && refused ? refused(await me.json()) : null;
    if (why) return showLogin(why);
    notice(t("link.lost"));
    setTimeout(() => { if (page.ws === ws && page.me) connect(); }, 3000);
  };
}

/// Starts the page. `options`: `lang`, the key keeping the chosen language;
/// `api`, the account API's base (`/api/admin` when absent, the agent
/// console's `/api/agent`: its `login`, `me` and `logout`); `views`, the
/// ids hidden while signed out (the page shows them in `signedIn`);
/// `roles`, the roles let in (all when absent; the others see
/// "login.role"); `who(me)`, the header's name; `signedIn(me)`,
/// `signingOut()` (on the sign-out click, before the hub forgets the
/// session), `signedOut()`, `language()` (after a switch) and `gesture()`
/// (on the sign-in click), the page's own steps; `socket`,
/// `{ path, received, refused(me) }` when the page lives on one (a page
/// with its own connection passes none and opens it in `signedIn`).
async function startPage(options) {
  page.options = { api: "/api/admin", ...options };
  options = page.options;
  lang = localStorage.getItem(options.lang) === "en" ? "en" : "fr";
  applyWords();
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      localStorage.setItem(options.lang, lang);
      applyWords();
      if (options.language) options.language();
    });
  }
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", async () => {
    if (options.signingOut) options.signingOut();
    await fetch(`${options.api}/logout`, { method: "POST", credentials: "same-origin" }).catch(() => null);
    showLogin();
  });
  const me = await fetch(`${options.api}/me`, { credentials: "same-origin" }).catch(() => null);
  if (me && me.ok) signedIn(await me.json());
  else showLogin();
}
