// The supervision page's words, French first. Keys are "area.what"; {name}
// is replaced by the value given.

const WORDS = {
  fr: {
    "app.sub": "Supervision",
    "who.logout": "Se déconnecter",
    "login.title": "Connexion de la supervision",
    "login.user": "Identifiant",
    "login.password": "Mot de passe",
    "login.submit": "Se connecter",
    "login.failed": "Identifiant ou mot de passe non reconnu.",
    "login.throttled": "Trop d'essais : réessayez dans quelques minutes.",
    "login.role": "Ce compte n'a pas accès à la supervision (rôles superviseur et administrateur).",
    "login.error": "Le serveur ne répond pas. Réessayez.",
    "lines.title": "Files d'attente et appels du jour",
    "lines.service": "Service",
    "lines.waiting": "En attente",
    "lines.longest": "Plus longue attente",
    "lines.median": "Attente médiane (jour)",
    "lines.answered": "Appels pris (jour)",
    "lines.abandoned": "Abandons",
    "lines.happy": "Satisfaits",
    "lines.neutral": "Moyens",
    "lines.unhappy": "Mécontents",
    "lines.none": "—",
    "today.date": "Chiffres du {date}, mis à jour en direct.",
    "today.waiting": "Chiffres du jour en cours de lecture…",
    "agents.title": "Conseillers connectés",
    "agents.name": "Conseiller",
    "agents.state": "État",
    "agents.since": "Depuis",
    "agents.calls": "Appels du jour",
    "agents.empty": "Aucun conseiller n'est connecté.",
    "state.available": "Disponible",
    "state.in_call": "En appel · {service}",
    "state.away": "Absent",
    "duration.s": "{s} s",
    "duration.m": "{m} min {s} s",
    "duration.h": "{h} h {m} min",
    "link.lost": "Liaison avec le serveur perdue ; nouvelle tentative…",
  },
  en: {
    "app.sub": "Supervision",
    "who.logout": "Sign out",
    "login.title": "Supervisor sign-in",
    "login.user": "Login",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.failed": "Login or password not recognised.",
    "login.throttled": "Too many attempts: try again in a few minutes.",
    "login.role": "This account has no access to supervision (supervisor and admin roles).",
    "login.error": "The server does not answer. Try again.",
    "lines.title": "Queues and today's calls",
    "lines.service": "Service",
    "lines.waiting": "Waiting",
    "lines.longest": "Longest wait",
    "lines.median": "Median wait (today)",
    "lines.answered": "Calls answered (today)",
    "lines.abandoned": "Abandoned",
    "lines.happy": "Satisfied",
    "lines.neutral": "Neutral",
    "lines.unhappy": "Unhappy",
    "lines.none": "—",
    "today.date": "Figures of {date}, updated live.",
    "today.waiting": "Reading today's figures…",
    "agents.title": "Agents signed in",
    "agents.name": "Agent",
    "agents.state": "State",
    "agents.since": "Since",
    "agents.calls": "Calls today",
    "agents.empty": "No agent is signed in.",
    "state.available": "Available",
    "state.in_call": "In a call · {service}",
    "state.away": "Away",
    "duration.s": "{s} s",
    "duration.m": "{m} min {s} s",
    "duration.h": "{h} h {m} min",
    "link.lost": "Connection to the server lost; trying again…",
  },
};

let lang = localStorage.getItem("visio-supervision-lang") === "en" ? "en" : "fr";

function t(key, vars) {
  let text = (WORDS[lang] && WORDS[lang][key]) || WORDS.fr[key] || key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replace(`{${k}}`, v);
  return text;
}

function applyWords() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
}
