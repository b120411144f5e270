// The theme the viewer chose on this browser ("light" or "dark"); without a choice the page
// follows prefers-color-scheme (Pico does that when <html> has no data-theme). Loaded in <head>,
// before the page paints, so a chosen theme never flashes the other one.
(function () {
  "use strict";
  try {
    var t = localStorage.getItem("berth-theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) { /* storage refused: follow the system */ }
})();
