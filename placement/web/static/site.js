/* Placement pages: a little progressive enhancement. Every page works without it. */
(function () {
  "use strict";

  function announce(region, message) {
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = message; }, 50);
  }

  /* Unsaved changes: a form marked data-confirm-leave warns before the page is left with
     changes it has not sent; one marked data-autosave sends each change as it happens. */
  var unsavedForms = [];

  window.addEventListener("beforeunload", function (event) {
    if (unsavedForms.length === 0) return undefined;
    event.preventDefault();
    event.returnValue = "";
    return "";
  });

  function setUnsaved(form, unsaved) {
    var i = unsavedForms.indexOf(form);
    if (unsaved && i < 0) unsavedForms.push(form);
    if (!unsaved && i >= 0) unsavedForms.splice(i, 1);
    var notice = document.querySelector("[data-unsaved-notice]");
    if (notice && form.hasAttribute("data-confirm-leave")) notice.hidden = !unsaved;
  }

  /* Send the form's list as it is now, with its CSRF token, to the same address the
     Save button posts to; answers come back as JSON. One save at a time: a change made
     while one is on its way is sent after it. */
  function autosaver(form, live) {
    var state = form.querySelector("[data-save-state]");
    var busy = false;
    var again = false;
    var said = "";

    function show(text, bad) {
      if (state) {
        state.textContent = text;
        state.classList.toggle("error", !!bad);
      }
    }

    function save(message) {
      said = message || said;
      if (busy) { again = true; return; }
      busy = true;
      setUnsaved(form, true);
      show("Saving…");
      var data = new FormData(form);
      data.set("save", "1");
      fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (result) {
          busy = false;
          if (again) { again = false; save(); return; }
          if (result.ok && result.body.saved) {
            setUnsaved(form, false);
            show("Saved. Your list is kept as it is shown.");
            announce(live, (said ? said + " " : "") + "Saved.");
            said = "";
          } else {
            var why = (result.body.errors || ["The change was not saved."]).join(" ");
            show("Not saved: " + why, true);
            announce(live, "Not saved: " + why);
          }
        })
        .catch(function () {
          busy = false;
          show("Not saved: the server could not be reached. Use the Save button to try again.", true);
          announce(live, "Not saved");
        });
    }
    return save;
  }

  /* Ranked lists: move up / move down / move to a position / remove, and dragging with a
     mouse, without a round trip. The buttons are real submit buttons, so without
     JavaScript the server moves the item instead, and the buttons are the keyboard's way
     to do what dragging does. */
  function setUpRanking(list) {
    var live = document.getElementById(list.getAttribute("data-live-region"));
    var form = list.closest("form");
    var save = form && form.hasAttribute("data-autosave") ? autosaver(form, live) : null;
    // With a list of those not ranked, "remove" and "add" go to the server (the item
    // changes list, and its controls with it); the current order goes along.
    var serverMoves = list.hasAttribute("data-unranked") ? ["remove", "add"] : ["add"];

    function label(item) {
      var el = item.querySelector(".label strong") || item.querySelector(".label a") || item.querySelector(".label");
      return el ? el.textContent.trim() : "item";
    }

    function refresh() {
      var items = list.querySelectorAll("li");
      items.forEach(function (item, index) {
        var up = item.querySelector("[data-move='up']");
        var down = item.querySelector("[data-move='down']");
        if (up) up.disabled = index === 0;
        if (down) down.disabled = index === items.length - 1;
        var select = item.querySelector("select[data-position]");
        if (select) {
          if (select.options.length !== items.length) {
            select.innerHTML = "";
            for (var n = 1; n <= items.length; n += 1) {
              var option = document.createElement("option");
              option.value = String(n);
              option.textContent = String(n);
              select.appendChild(option);
            }
          }
          select.value = String(index + 1);
        }
      });
      var empty = document.getElementById(list.getAttribute("data-empty"));
      if (empty) empty.hidden = items.length !== 0;
    }

    function changed(item, message) {
      refresh();
      announce(live, message);
      if (save) save(message);
      else if (form) setUnsaved(form, true);
    }

    function position(item) {
      return Array.prototype.indexOf.call(list.querySelectorAll("li"), item) + 1;
    }

    function moved(item) {
      var count = list.querySelectorAll("li").length;
      changed(item, label(item) + " is now number " + position(item) + " of " + count + ".");
    }

    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-move]");
      if (!button || !list.contains(button)) return;
      var action = button.getAttribute("data-move");
      if (serverMoves.indexOf(action) >= 0) {
        if (form) setUnsaved(form, false);
        return; // the form posts the move with the current order
      }
      event.preventDefault();
      var item = button.closest("li");
      if (action === "up" && item.previousElementSibling) {
        list.insertBefore(item, item.previousElementSibling);
      } else if (action === "down" && item.nextElementSibling) {
        list.insertBefore(item.nextElementSibling, item);
      } else if (action === "to") {
        var select = item.querySelector("select[data-position]");
        var items = Array.prototype.slice.call(list.querySelectorAll("li"));
        var target = Math.max(1, Math.min(items.length, parseInt(select.value, 10) || 1));
        items.splice(items.indexOf(item), 1);
        list.insertBefore(item, items[target - 1] || null);
        moved(item);
        button.focus();
        return;
      } else if (action === "remove") {
        var next = item.nextElementSibling || item.previousElementSibling;
        item.remove();
        changed(item, label(item) + " removed from your list.");
        var focusTarget = next ? next.querySelector("button[data-move='remove']") : form && form.querySelector("button[name='save']");
        if (focusTarget) focusTarget.focus();
        return;
      }
      moved(item);
      // Keep focus on the control the user pressed, or its twin if that one is now disabled.
      var again = item.querySelector("[data-move='" + action + "']");
      if (again && again.disabled) again = item.querySelector("[data-move='" + (action === "up" ? "down" : "up") + "']");
      if (again) again.focus();
    });

    /* The drag handle: drag it with a mouse, a pen or a finger (pointer events), or from
       the keyboard: Space or Enter picks the item up, the arrow keys move it, Space or
       Enter drops it and Escape puts it back; each step is announced. "Position" and
       "Move" stay as the way to do it without dragging (WCAG 2.5.7). */
    var help = document.getElementById(list.getAttribute("data-drag-help") || "");
    if (help) help.hidden = false;
    var grabbed = null;
    var grabbedFrom = null;
    var dragging = null;
    var startedAt = 0;
    function count() { return list.querySelectorAll("li").length; }
    function handleOf(item) { return item.querySelector("[data-handle]"); }
    function pickUp(item) {
      grabbed = item;
      grabbedFrom = item.nextElementSibling;
      item.classList.add("dragging");
      handleOf(item).setAttribute("aria-pressed", "true");
      announce(live, label(item) + " picked up, number " + position(item) + " of " + count() +
        ". Use the up and down arrow keys to move it, Space to drop it, Escape to cancel.");
    }
    function drop(cancel, keepFocus) {
      var item = grabbed;
      if (!item) return;
      grabbed = null;
      item.classList.remove("dragging");
      handleOf(item).setAttribute("aria-pressed", "false");
      if (cancel) {
        list.insertBefore(item, grabbedFrom);
        refresh();
        announce(live, label(item) + " put back at number " + position(item) + ".");
      } else {
        moved(item);
      }
      if (keepFocus !== false) handleOf(item).focus();
    }
    list.querySelectorAll("[data-handle]").forEach(function (handle) {
      handle.hidden = false;
      handle.addEventListener("keydown", function (event) {
        var item = handle.closest("li");
        var key = event.key;
        if (key === " " || key === "Spacebar" || key === "Enter") {
          event.preventDefault();
          if (grabbed === item) drop(false);
          else { drop(false); pickUp(item); }
        } else if (grabbed === item && (key === "ArrowUp" || key === "ArrowDown" || key === "Home" || key === "End")) {
          event.preventDefault();
          if (key === "ArrowUp" && item.previousElementSibling) list.insertBefore(item, item.previousElementSibling);
          else if (key === "ArrowDown" && item.nextElementSibling) list.insertBefore(item.nextElementSibling, item);
          else if (key === "Home") list.insertBefore(item, list.firstElementChild);
          else if (key === "End") list.appendChild(item);
          refresh();
          handle.focus();
          announce(live, label(item) + ", number " + position(item) + " of " + count() + ".");
        } else if (grabbed === item && (key === "Escape" || key === "Tab")) {
          if (key === "Escape") event.preventDefault();
          drop(key === "Escape");
        }
      });
      handle.addEventListener("click", function (event) { event.preventDefault(); });
      // Moving the item in the page takes focus from it for a moment; only a real move of
      // focus elsewhere drops it.
      handle.addEventListener("blur", function () {
        var item = handle.closest("li");
        window.setTimeout(function () {
          if (grabbed === item && document.activeElement !== handle) drop(false, false);
        }, 0);
      });
      // The pointer is followed on the document: moving the item in the page would end a
      // pointer capture on its handle.
      function follow(event) {
        if (!dragging) return;
        event.preventDefault();
        var over = document.elementFromPoint(event.clientX, event.clientY);
        over = over && over.closest("li");
        if (!over || over === dragging || !list.contains(over)) return;
        var box = over.getBoundingClientRect();
        var after = event.clientY > box.top + box.height / 2;
        list.insertBefore(dragging, after ? over.nextElementSibling : over);
      }
      function release() {
        document.removeEventListener("pointermove", follow);
        document.removeEventListener("pointerup", release);
        document.removeEventListener("pointercancel", release);
        if (!dragging) return;
        var item = dragging;
        dragging = null;
        item.classList.remove("dragging");
        if (position(item) !== startedAt) moved(item);
        handle.focus();
      }
      handle.addEventListener("pointerdown", function (event) {
        if (event.button !== 0) return;
        event.preventDefault();
        dragging = handle.closest("li");
        startedAt = position(dragging);
        dragging.classList.add("dragging");
        document.addEventListener("pointermove", follow);
        document.addEventListener("pointerup", release);
        document.addEventListener("pointercancel", release);
      });
    });

    if (form) {
      form.addEventListener("submit", function () { setUnsaved(form, false); });
      // The server drew a moved but unsaved list (a move made without this script).
      var notice = document.querySelector("[data-unsaved-notice]");
      if (notice && !notice.hidden && form.hasAttribute("data-confirm-leave")) setUnsaved(form, true);
    }
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

  /* Approving or rejecting a proposal on a run's page happens in place: the row changes,
     the page keeps its scroll position, and focus moves to the next row's decision.
     Without JavaScript the same forms post and the page comes back to the same filters. */
  function setUpDecisions(table) {
    var live = document.getElementById("decide-status");
    table.addEventListener("submit", function (event) {
      var form = event.target.closest("form[data-decide]");
      if (!form) return;
      event.preventDefault();
      var row = form.closest("tr");
      var cell = row.querySelector("[data-decide-cell]");
      var buttons = row.querySelectorAll("[data-decide-cell] button");
      buttons.forEach(function (b) { b.disabled = true; });
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (result) {
          if (!result.ok || !result.body.ok) throw new Error(result.body.message || "");
          var status = row.querySelector("[data-status-cell]");
          if (status) {
            status.textContent = "";
            var badge = document.createElement("span");
            badge.className = "badge " + result.body.status;
            badge.textContent = result.body.status;
            status.appendChild(badge);
          }
          cell.textContent = result.body.message;
          announce(live, result.body.message);
          var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
          var next = null;
          for (var i = rows.indexOf(row) + 1; i < rows.length && !next; i += 1) {
            next = rows[i].querySelector("form[data-decide] button");
          }
          (next || cell).focus({ preventScroll: false });
        })
        .catch(function (error) {
          buttons.forEach(function (b) { b.disabled = false; });
          var problem = cell.querySelector(".decide-error") || document.createElement("p");
          problem.className = "decide-error error";
          problem.setAttribute("role", "alert");
          problem.textContent = (error && error.message) || "That did not work; reload the page and try again.";
          cell.appendChild(problem);
        });
    });
  }

  // Bulk forms: a "select all on this page" box (added here, as it needs a script) and a
  // count of the selected rows, announced politely.
  function setUpBulk(form) {
    var picks = Array.prototype.slice.call(document.querySelectorAll("[data-pick]"));
    var count = form.querySelector("[data-bulk-count]");
    var head = form.querySelector("[data-select-all]");
    var everyone = form.querySelector("[data-all-matching]");
    var all = null;
    function update() {
      var n = picks.filter(function (p) { return p.checked; }).length;
      // Unticking any row of the page takes back "all that match".
      if (everyone && n < picks.length) everyone.checked = false;
      if (count) {
        if (everyone && everyone.checked) count.textContent = "All " + Number(everyone.getAttribute("data-total")).toLocaleString("en-GB") + " selected";
        else count.textContent = n ? n + " selected" : "None selected";
      }
      if (all) {
        all.checked = n > 0 && n === picks.length;
        all.indeterminate = n > 0 && n < picks.length;
      }
    }
    if (everyone) {
      everyone.addEventListener("change", function () {
        if (everyone.checked) picks.forEach(function (p) { p.checked = true; });
        update();
      });
    }
    if (head && picks.length) {
      head.textContent = "";
      var box = document.createElement("div");
      box.className = "check";
      all = document.createElement("input");
      all.type = "checkbox";
      all.id = "select-all";
      var label = document.createElement("label");
      label.htmlFor = "select-all";
      label.textContent = "Select all " + picks.length + " on this page";
      box.appendChild(all);
      box.appendChild(label);
      head.appendChild(box);
      all.addEventListener("change", function () {
        picks.forEach(function (p) { p.checked = all.checked; });
        update();
      });
    }
    picks.forEach(function (p) { p.addEventListener("change", update); });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-bulk]").forEach(setUpBulk);
    var proposals = document.getElementById("proposals");
    if (proposals) setUpDecisions(proposals);
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
