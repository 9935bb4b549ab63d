// The top bar's menu button: on a narrow screen it shows and hides the
// navigation. Pages carry no inline script, so this lives here. Without
// it the button stays hidden (the stylesheet shows it only under .js)
// and the navigation stays shown.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  function init() {
    var button = document.querySelector(".menu-toggle");
    if (!button) return;
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;
    function set(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    }
    button.addEventListener("click", function () {
      set(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        set(false);
        button.focus();
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
