// Last in the bundle: every part above is defined. The page's state is
// also a window property: WebDriver scripts in Firefox see only those, not
// a script's top-level const bindings.
Object.assign(window, { state, failureText, scanFailureText, MESSAGES, DocView, Day, Documents });
boot();
