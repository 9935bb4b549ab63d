// BirdCar console: says so when an htmx request fails, and keeps live
// panels honest about how fresh they are. No inline scripts: this file is
// served from /static like htmx.
(function () {
  "use strict";

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function clock(d) { return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()); }

  // What went wrong, in words an operator can act on.
  function describe(detail) {
    var xhr = detail && detail.xhr;
    if (!xhr || !xhr.status) {
      return "BirdCar could not be reached: check your connection, then try again.";
    }
    if (xhr.status === 401 || (xhr.responseURL && xhr.responseURL.indexOf("/login") >= 0)) {
      return "Your session has ended: sign in again (reload the page), then try again.";
    }
    if (xhr.status === 403) {
      return "That was refused (403): you may not do this, or the page is out of date. Reload it and try again.";
    }
    if (xhr.status === 404) {
      return "That was not found (404): it may have been removed. Reload the page.";
    }
    if (xhr.status === 503) {
      return "BirdCar is busy or its database is unavailable (503): try again in a moment.";
    }
    return "Something went wrong on the server (" + xhr.status + "): this may not have been saved. Try again; if it keeps failing, tell an administrator.";
  }

  // The alert goes next to what was used: in the form's (or element's)
  // own alert slot, else in the page's alert region.
  function alertFor(elt) {
    var host = elt && elt.closest ? (elt.closest("form") || elt) : null;
    if (host && host.parentNode && host !== document.body) {
      var next = host.nextElementSibling;
      if (next && next.classList && next.classList.contains("request-alert")) {
        return next;
      }
      var box = document.createElement("div");
      box.className = "alert alert-error request-alert";
      box.setAttribute("role", "alert");
      box.setAttribute("data-testid", "request-alert");
      host.parentNode.insertBefore(box, host.nextSibling);
      return box;
    }
    return document.getElementById("page-alerts");
  }

  // isRefresh tells a live panel's own refresh from a form inside it.
  function isRefresh(elt) {
    return !!(elt && elt.matches && elt.matches("[hx-trigger*='sse:']") && elt.closest("[data-live]"));
  }

  function showFailure(evt) {
    var elt = evt.detail && evt.detail.elt;
    if (isRefresh(elt)) {
      stale(elt.closest("[data-live]"));
      return; // a live panel's own refresh: its status line says it
    }
    var box = alertFor(elt);
    if (!box) { return; }
    box.textContent = describe(evt.detail);
    box.hidden = false;
    // The form can be used again at once.
    var form = elt && elt.closest ? elt.closest("form") : null;
    if (form) {
      form.querySelectorAll("button, input[type=submit]").forEach(function (b) { b.disabled = false; });
      form.classList.remove("htmx-request");
    }
  }

  document.addEventListener("htmx:responseError", showFailure);
  document.addEventListener("htmx:sendError", showFailure);
  document.addEventListener("htmx:timeout", showFailure);

  // A request that went through clears the alert it had left.
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (!evt.detail || !evt.detail.successful) { return; }
    var elt = evt.detail.elt;
    var host = elt && elt.closest ? (elt.closest("form") || elt) : null;
    var next = host && host.nextElementSibling;
    if (next && next.classList && next.classList.contains("request-alert")) {
      next.remove();
    }
    if (isRefresh(elt)) { fresh(elt.closest("[data-live]")); }
  });

  // Live panels: data-live on the element holding sse-connect, with a
  // [data-live-status] line inside.
  function status(panel) { return panel.querySelector("[data-live-status]"); }

  function fresh(panel) {
    panel.dataset.updated = clock(new Date());
    panel.classList.remove("live-stale");
    var s = status(panel);
    if (s) { s.textContent = "live · updated " + panel.dataset.updated; }
  }

  function stale(panel) {
    panel.classList.add("live-stale");
    var s = status(panel);
    if (s) {
      s.textContent = "last updated " + (panel.dataset.updated || clock(new Date())) + " — reconnecting";
    }
  }

  document.addEventListener("htmx:sseError", function (evt) {
    var panel = evt.target && evt.target.closest ? evt.target.closest("[data-live]") : null;
    if (panel) {
      panel.dataset.lost = "1";
      stale(panel);
    }
  });

  document.addEventListener("htmx:sseOpen", function (evt) {
    var panel = evt.target && evt.target.closest ? evt.target.closest("[data-live]") : null;
    if (!panel) { return; }
    if (panel.dataset.lost) {
      // Changes made while the stream was down were not announced: read
      // the panel again.
      delete panel.dataset.lost;
      panel.querySelectorAll("[hx-trigger*='sse:change']").forEach(function (el) {
        htmx.trigger(el, "sse:change");
      });
    }
    fresh(panel);
  });

  // Until its stream opens, a panel is as fresh as the page.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(function (panel) {
      panel.dataset.updated = clock(new Date());
      var s = status(panel);
      if (s && !s.textContent) { s.textContent = "connecting…"; }
    });
  });
})();
