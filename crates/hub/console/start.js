// Last in the bundle: every part above is defined. The page's state is
// also a window property: WebDriver scripts in Firefox see only those, not
// a script's top-level const bindings.
Object.assign(window, { state, failureText, scanFailureText, WORDS, DocView, Day, Documents });

function redrawTexts() {
  for (const hook of languageHooks) hook();
}

// The shared frame's sign-in, header and language switch (/common/page.js)
// with the agent API; the console keeps its own hub connection.
startPage({
  lang: "visio.lang",
  api: "/api/agent",
  views: ["desk"],
  // A user gesture: the only moment browsers let a page ask for
  // notifications and start its sound.
  gesture: () => Alerts.prepare(),
  signedIn: agentSignedIn,
  signingOut: agentSigningOut,
  signedOut: agentSignedOut,
  language: redrawTexts,
});
// As after a switch: the texts the console's parts draw (the button's
// reason, the lists) are there before the hub answers.
redrawTexts();
