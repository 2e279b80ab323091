/* Placement pages: a little progressive enhancement. Every page works without it. */
(function () {
  "use strict";

  function announce(region, message) {
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = message; }, 50);
  }

  /* Ranked lists: move up / move down / remove without a round trip. The buttons are real
     submit buttons, so without JavaScript the server reorders the list instead. */
  function setUpRanking(list) {
    var live = document.getElementById(list.getAttribute("data-live-region"));

    function label(item) {
      var el = item.querySelector(".label");
      return el ? el.textContent.trim() : "item";
    }

    function refresh() {
      var items = list.querySelectorAll("li");
      items.forEach(function (item, index) {
        var up = item.querySelector("[data-move='up']");
        var down = item.querySelector("[data-move='down']");
        if (up) up.disabled = index === 0;
        if (down) down.disabled = index === items.length - 1;
      });
      var empty = document.getElementById(list.getAttribute("data-empty"));
      if (empty) empty.hidden = items.length !== 0;
    }

    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-move]");
      if (!button || !list.contains(button)) return;
      event.preventDefault();
      var item = button.closest("li");
      var action = button.getAttribute("data-move");
      var items = Array.prototype.slice.call(list.querySelectorAll("li"));
      var position;
      if (action === "up" && item.previousElementSibling) {
        list.insertBefore(item, item.previousElementSibling);
      } else if (action === "down" && item.nextElementSibling) {
        list.insertBefore(item.nextElementSibling, item);
      } else if (action === "remove") {
        var next = item.nextElementSibling || item.previousElementSibling;
        item.remove();
        refresh();
        announce(live, label(item) + " removed from your list. Save to keep the change.");
        var target = next ? next.querySelector("button[data-move='remove']") : list.closest("form").querySelector("button[type='submit'][name='save']");
        if (target) target.focus();
        return;
      }
      refresh();
      items = Array.prototype.slice.call(list.querySelectorAll("li"));
      position = items.indexOf(item) + 1;
      // Keep focus on the control the user pressed, or its twin if that one is now disabled.
      var again = item.querySelector("[data-move='" + action + "']");
      if (again && again.disabled) again = item.querySelector("[data-move='" + (action === "up" ? "down" : "up") + "']");
      if (again) again.focus();
      announce(live, label(item) + " is now number " + position + " of " + items.length + ".");
    });
    refresh();
  }

  /* A run's progress: poll the small JSON endpoint until the run is done. */
  function setUpProgress(box) {
    var url = box.getAttribute("data-progress-url");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    var failures = 0;

    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (run) {
          failures = 0;
          bar.value = run.progress;
          bar.textContent = run.progress + "%";
          text.textContent = run.progress + "% · " + run.phase_label + " · " + run.status_label;
          box.setAttribute("data-status", run.status);
          if (run.status === "succeeded" || run.status === "failed") {
            var done = box.getAttribute("data-done-url") || run.page_url;
            window.setTimeout(function () { window.location.assign(done); }, 600);
          } else {
            window.setTimeout(tick, 700);
          }
        })
        .catch(function () {
          failures += 1;
          if (failures < 20) window.setTimeout(tick, 2000);
          else text.textContent = "Lost contact with the server; reload the page to try again.";
        });
    }
    tick();
  }

  /* A proposal's "why" panel fetches the explanation of better-ranked choices when it is
     first opened: drawing the table costs no explanation at all. Without JavaScript the
     panel's link opens the same explanation as a page. */
  function setUpWhy(panel) {
    var state = "idle";
    var target = panel.querySelector("[data-why-target]");
    if (!target) return;
    panel.addEventListener("toggle", function () {
      if (!panel.open || state !== "idle") return;
      state = "loading";
      target.textContent = "Loading the explanation…";
      fetch(panel.getAttribute("data-why-url"), {
        credentials: "same-origin",
        headers: { Accept: "text/html" }
      })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          // Server-rendered and escaped by the template engine, from this site only.
          target.innerHTML = html;
          state = "loaded";
          panel.setAttribute("data-why-loaded", "true");
        })
        .catch(function () {
          state = "idle";
          target.textContent = "The explanation could not be loaded; the link below opens it as a page.";
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("details[data-why-url]").forEach(setUpWhy);
    document.querySelectorAll("ol[data-ranking]").forEach(function (list) {
      setUpRanking(list);
      list.setAttribute("data-ready", "true"); // moves now happen here, not by a form post
    });
    document.querySelectorAll("[data-progress-url]").forEach(setUpProgress);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  });
})();
