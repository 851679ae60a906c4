/* Inspector: draws the instance's BPMN diagram (bpmn-js NavigatedViewer) with its live state as overlays.
   Everything else on the page works without JavaScript. */
(function () {
  "use strict";

  // Messages go above the diagram box, not inside it: bpmn-js fills the box (and clips it).
  function show(container, text, problem) {
    var p = document.getElementById("diagram-message");
    if (!p) {
      p = document.createElement("p");
      p.className = "diagram-message";
      container.parentNode.insertBefore(p, container);
    }
    p.textContent = text;
    p.classList.toggle("diagram-message--problem", !!problem);
    p.hidden = false;
    if (problem) { container.classList.add("inspector-diagram--empty"); }
  }

  function badge(className, text, title) {
    var span = document.createElement("span");
    span.className = "diagram-badge " + className;
    span.textContent = text;
    span.title = title;
    return span;
  }

  var MARKERS = ["fs-completed", "fs-active", "fs-incident"];

  // Business rule tasks that evaluated a decision: a "DMN" badge, the decision and its result on hover,
  // a click goes to the instance page's "Decisions evaluated" table.
  function markDecisions(viewer, decisions) {
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    overlays.remove({ type: "fs-decisions" });
    Object.keys(decisions || {}).forEach(function (id) {
      if (!registry.get(id)) { return; }
      var runs = decisions[id];
      var last = runs[runs.length - 1];
      var failed = last.state === "FAILED";
      var text = runs.map(function (r) {
        return r.decision + " v" + r.version + (r.state === "FAILED" ? " failed: " : " → ") +
          (typeof r.result === "string" ? r.result : JSON.stringify(r.result));
      }).join("\n");
      var link = document.createElement("a");
      link.href = "#decisions";
      link.setAttribute("data-decision-badge", id);
      link.appendChild(badge(failed ? "diagram-badge--incident" : "diagram-badge--decision",
        "DMN" + (runs.length > 1 ? " ×" + runs.length : ""), text));
      overlays.add(id, "fs-decisions", { position: { top: -10, left: -8 }, html: link });
    });
  }

  function decorate(viewer, elements) {
    var level = heat(elements);
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    // A live refresh redraws the state: the previous markers and badges go first.
    overlays.remove({ type: "fs-tokens" });
    overlays.remove({ type: "fs-incidents" });
    registry.getAll().forEach(function (shape) {
      MARKERS.forEach(function (m) { canvas.removeMarker(shape.id, m); });
      // Names are drawn on the shapes; the id shows on hover.
      var gfx = registry.getGraphics(shape.id);
      if (gfx && shape.businessObject && shape.businessObject.id && !gfx.querySelector("title")) {
        var title = document.createElementNS("http://www.w3.org/2000/svg", "title");
        title.textContent = (shape.businessObject.name ? shape.businessObject.name + " — " : "") + shape.businessObject.id;
        gfx.insertBefore(title, gfx.firstChild);
      }
    });
    Object.keys(elements).forEach(function (id) {
      var state = elements[id];
      if (!registry.get(id)) { return; }
      if (state.completed) { canvas.addMarker(id, "fs-completed"); }
      if (state.active) {
        canvas.addMarker(id, "fs-active");
        overlays.add(id, "fs-tokens", {
          position: { bottom: 8, left: -8 },
          html: badge("diagram-badge--active diagram-heat--" + level(state.active), String(state.active),
            state.active + " active")
        });
      }
      if (state.incidents) {
        canvas.addMarker(id, "fs-incident");
        overlays.add(id, "fs-incidents", {
          position: { top: -10, right: 10 },
          html: badge("diagram-badge--incident", "!" + (state.incidents > 1 ? state.incidents : ""),
            state.incidents + " incident" + (state.incidents > 1 ? "s" : ""))
        });
      }
    });
  }

  // A click on an element opens its panel (tokens, variables in scope, jobs, incidents, timeline) under
  // the diagram on an instance page, or the instances waiting there on a definition page.
  function clickable(viewer, container) {
    viewer.get("eventBus").on("element.click", function (event) {
      var shape = event.element && event.element.labelTarget ? event.element.labelTarget : event.element;
      if (!shape || !shape.businessObject || !shape.parent || shape.type === "bpmn:Process" ||
          shape.type === "bpmn:Collaboration" || shape.type === "bpmn:SequenceFlow") { return; }
      var id = shape.businessObject.id;
      if (container.dataset.instancesUrl) {
        window.location.href = container.dataset.instancesUrl + "&active_element=" + encodeURIComponent(id);
        return;
      }
      if (!container.dataset.elementUrl) { return; }
      var url = container.dataset.elementUrl.replace("ELEMENT", encodeURIComponent(id));
      fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true", Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          var panel = document.getElementById("element-panel");
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#element-panel");
          if (!panel || !fresh) { return; }
          panel.replaceWith(fresh);
          window.history.replaceState(null, "", "?element=" + encodeURIComponent(id) + "#element-panel");
          fresh.scrollIntoView({ block: "start" });
        })
        .catch(function (error) { show(container, "That element could not be loaded (" + error.message + ").", true); });
    });
  }

  // Heatmap: the more of the version's active tokens wait at an element, the darker its badge (4 steps).
  function heat(elements) {
    var most = 0;
    Object.keys(elements).forEach(function (id) { most = Math.max(most, elements[id].active || 0); });
    return function (n) { return most ? Math.max(1, Math.ceil(4 * n / most)) : 0; };
  }

  function load(container) {
    if (typeof window.BpmnJS !== "function") {
      show(container, "The diagram viewer could not be loaded; the tables below show the same state.", true);
      return;
    }
    var layoutProblem = "";
    fetch(container.dataset.diagramUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (!data.xml) { show(container, "This definition has no diagram.", true); return null; }
        layoutProblem = data.layoutProblem || "";
        if (data.laidOut) { show(container, "This file has no diagram layout; it was laid out automatically."); }
        var viewer = new window.BpmnJS({ container: container });
        return viewer.importXML(data.xml).then(function () {
          if (!container.querySelector(".djs-element.djs-shape")) {
            throw new Error("the file has no diagram layout to draw");
          }
          viewer.get("canvas").zoom("fit-viewport", "auto");
          decorate(viewer, data.elements || {});
          markDecisions(viewer, data.decisions);
          clickable(viewer, container);
          container.fsViewer = viewer;
          container.dataset.ready = "true";
          poll(container);
        });
      })
      .catch(function (error) {
        var reason = layoutProblem || (error && error.message ? error.message : String(error));
        show(container, "The diagram cannot be drawn (" + reason + "); the tables below show the same state.", true);
        container.dataset.ready = "error";
      });
  }

  // Live page: when the refreshed regions say the engine wrote something, redraw the overlays only
  // (the diagram keeps its zoom and scroll).
  function refresh(container) {
    var viewer = container.fsViewer;
    if (!viewer) { return; }
    fetch(container.dataset.diagramUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        decorate(viewer, data.elements || {});
        markDecisions(viewer, data.decisions);
        container.dataset.version = container.dataset.pending || "";
      })
      .catch(function () { /* the next refresh tries again */ });
  }

  // A version's page (data-refresh-seconds): the heatmap's counts come again every few seconds while the
  // page is visible; the stamp says when they last came.
  function poll(container) {
    var seconds = Number(container.dataset.refreshSeconds || 0);
    if (!seconds) { return; }
    window.setInterval(function () {
      if (document.hidden) { return; }
      fetch(container.dataset.diagramUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          decorate(container.fsViewer, data.elements || {});
          container.dataset.refreshes = String(Number(container.dataset.refreshes || 0) + 1);
          var time = document.querySelector("#heatmap-stamp time");
          if (time) {
            var now = new Date();
            time.dateTime = now.toISOString();
            time.textContent = now.toTimeString().slice(0, 8);
          }
        })
        .catch(function () { /* the next refresh tries again */ });
    }, seconds * 1000);
  }

  function watch(container) {
    var stamp = document.getElementById("live-stamp");
    container.dataset.version = stamp ? stamp.dataset.version || "" : "";
    document.body.addEventListener("htmx:afterOnLoad", function () {
      window.setTimeout(function () {
        var current = document.getElementById("live-stamp");
        var version = current ? current.dataset.version || "" : "";
        if (version && version !== container.dataset.version) {
          container.dataset.pending = version;
          refresh(container);
        }
      }, 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("diagram");
    if (container) { load(container); watch(container); }
  });
})();
