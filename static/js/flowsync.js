// FlowSync pages work without this file; it only adds conveniences:
// keyboard shortcuts, auto-submitting the tenant switch, and telling the server the browser's time zone.
(function () {
  "use strict";

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    if (event.key === "/") {
      var search = document.querySelector('input[type="search"]');
      if (search) { event.preventDefault(); search.focus(); search.select(); }
      return;
    }
    if (event.key === "j" || event.key === "k") {
      var links = Array.prototype.slice.call(document.querySelectorAll("[data-task-link]"));
      if (!links.length) return;
      var index = links.indexOf(document.activeElement);
      index = event.key === "j" ? Math.min(index + 1, links.length - 1) : Math.max(index - 1, 0);
      links[index].focus();
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-autosubmit]")) {
      event.target.form.requestSubmit();
    }
    // htmx refreshes the results when a filter <select> changes; an htmx trigger filter
    // (change[...]) would need eval, which the Content-Security-Policy forbids.
    if (event.target.matches && event.target.matches("form[data-select-refreshes] select")) {
      event.target.form.dispatchEvent(new CustomEvent("filters-change", {bubbles: true}));
    }
  });

  // The server renders dates in the zone kept in the session; until the person picks one,
  // offer the browser's own zone once, in the background, and reload if it differs.
  var body = document.body;
  if (body.dataset.tzKnown === "0" && window.Intl && window.fetch) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var token = document.querySelector('input[name="csrfmiddlewaretoken"]');
    if (zone && token) {
      var data = new FormData();
      data.append("timezone", zone);
      data.append("csrfmiddlewaretoken", token.value);
      fetch(body.dataset.tzUrl, {method: "POST", body: data, credentials: "same-origin",
                                 headers: {"X-Requested-With": "fetch"}})
        .then(function (response) {
          if (response.status === 204 && zone !== body.dataset.tz && !document.querySelector(".has-error")) {
            window.location.reload();
          }
        })
        .catch(function () {});
    }
  }
})();
