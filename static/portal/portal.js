// InfraZen portal: progressive enhancements only; every form works without JavaScript.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.submit();
    }
  });
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  // Live regions: an element with data-live-refresh="N" is replaced by its fresh copy from the
  // same URL every N seconds, for as long as the fresh copy still asks for it (e.g. while a sync
  // runs). Only that region changes: scroll position and forms elsewhere are kept.
  function scheduleLiveRefresh() {
    var region = document.querySelector("[data-live-refresh]");
    if (!region || !region.id || !window.fetch || !window.DOMParser) {
      return;
    }
    var seconds = parseInt(region.getAttribute("data-live-refresh"), 10) || 10;
    window.setTimeout(function () {
      if (document.hidden || region.contains(document.activeElement)) {
        scheduleLiveRefresh();  // try again later: nobody is looking, or someone is acting
        return;
      }
      window.fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
          if (fresh) {
            region.replaceWith(fresh);
          }
          scheduleLiveRefresh();
        })
        .catch(function () { /* offline or logged out: stop quietly, a manual reload still works */ });
    }, seconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", scheduleLiveRefresh);

  // data-reload-after="N": reload the whole page after N seconds (e.g. while an import runs).
  // Kept here rather than inline so the Content-Security-Policy can forbid inline scripts.
  document.addEventListener("DOMContentLoaded", function () {
    var marker = document.querySelector("[data-reload-after]");
    if (marker) {
      var seconds = parseInt(marker.getAttribute("data-reload-after"), 10) || 15;
      window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
    }
  });

  // Close an open <details> menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
  });
})();
