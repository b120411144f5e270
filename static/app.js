// Berth's behaviour in the browser: small, on top of htmx.
(function () {
  "use strict";

  // "Select all" checkboxes: <input type=checkbox data-select-all="ids">
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.dataset && t.dataset.selectAll) {
      document.querySelectorAll('input[type=checkbox][name="' + t.dataset.selectAll + '"]').forEach(function (cb) {
        cb.checked = t.checked;
      });
    }
  });

  // The engine's health changed: refresh the banner and the endpoint dot from the current page.
  document.addEventListener("htmx:sseMessage", function (e) {
    if (e.detail && e.detail.type === "engine" && window.htmx) {
      htmx.ajax("GET", location.pathname + location.search, { target: "#banner", select: "#banner", swap: "outerHTML" });
    }
  });

  // Endpoint form: a PEM file chosen is read into its textarea (the form posts text, not files),
  // and only the fields of the chosen kind are shown.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.dataset && t.dataset.pemInto && t.files && t.files[0]) {
      var area = t.form && t.form.querySelector('textarea[name="' + t.dataset.pemInto + '"]');
      var reader = new FileReader();
      reader.onload = function () { if (area) area.value = reader.result; };
      reader.readAsText(t.files[0]);
    }
    if (t && t.dataset && t.dataset.endpointKind !== undefined) showKind(t.form);
  });
  function showKind(form) {
    if (!form) return;
    var kind = form.querySelector("[data-endpoint-kind]");
    form.querySelectorAll("[data-show-for]").forEach(function (el) {
      el.hidden = !kind || el.dataset.showFor !== kind.value;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-endpoint-form]").forEach(showKind);
  });

  // Flash messages fade after a while.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target && e.target.id === "flash") {
      var el = e.target.firstElementChild;
      if (el && el.classList.contains("ok")) {
        setTimeout(function () { if (el.parentNode) el.parentNode.removeChild(el); }, 5000);
      }
    }
  });
  // The error page's "Back" (a link to the dashboard when there is no history): no inline script.
  document.addEventListener("click", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("a[data-back]") : null;
    if (a && window.history.length > 1) {
      e.preventDefault();
      window.history.back();
    }
  });
  // Bulk actions offer what fits at least one selected container (rows carry data-state;
  // buttons data-applies) and say how many of the selection each one fits.
  function bulkButtons() {
    var form = document.getElementById("bulk");
    if (!form) return;
    var states = [];
    document.querySelectorAll('input[type=checkbox][name="ids"]:checked').forEach(function (cb) {
      var tr = cb.closest("tr");
      if (tr) states.push(tr.dataset.state || "");
    });
    form.querySelectorAll("button[data-applies]").forEach(function (b) {
      var fits = b.dataset.applies.split(" ");
      var n = states.filter(function (s) { return fits.indexOf(s) >= 0; }).length;
      b.disabled = n === 0;
      b.title = states.length ? b.textContent + " fits " + n + " of the " + states.length + " selected" : "select containers first";
    });
    var count = document.getElementById("bulk-count");
    if (count) count.textContent = states.length ? states.length + " selected" : "";
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.type === "checkbox" && (e.target.name === "ids" || e.target.dataset.selectAll)) bulkButtons();
  });
  document.addEventListener("DOMContentLoaded", bulkButtons);
  document.addEventListener("htmx:afterSettle", bulkButtons);

  // Toasts: the flash area; a click dismisses one.
  document.addEventListener("click", function (e) {
    var f = e.target && e.target.closest ? e.target.closest("#flash .flash") : null;
    if (f && f.parentNode) f.parentNode.removeChild(f);
  });

  // Theme toggle: flips the theme shown and remembers it in this browser (static/theme.js
  // applies it before the next page paints).
  document.addEventListener("click", function (e) {
    var b = e.target && e.target.closest ? e.target.closest("[data-theme-toggle]") : null;
    if (!b) return;
    var root = document.documentElement;
    var now = root.getAttribute("data-theme") ||
      (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    var next = now === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { localStorage.setItem("berth-theme", next); } catch (err) { /* not remembered */ }
  });

  // List filters answer at once: rows whose text cannot match are hidden as the key is typed
  // (<input data-instant-filter="ROWS-ID">); the server's filtered rows follow and are the truth
  // (its match is narrower: what it shows is always among what stays visible here).
  document.addEventListener("input", function (e) {
    var t = e.target;
    var id = t && t.dataset && t.dataset.instantFilter;
    var rows = id && document.getElementById(id);
    if (!rows) return;
    var needle = t.value.trim().toLowerCase();
    var trs = rows.querySelectorAll("tr[data-text]");
    for (var i = 0; i < trs.length; i++) {
      var tr = trs[i];
      var show = !needle || tr.dataset.text.toLowerCase().indexOf(needle) >= 0;
      if (tr.hidden === show) tr.hidden = !show;
    }
  });

  // Keyboard: "/" focuses the page's filter (else the global search), "g" then a letter goes
  // to a list, "?" shows the keys. Keys typed into a field are the field's.
  var GO = { c: "/containers", i: "/images", n: "/networks", v: "/volumes", e: "/events", d: "/" };
  var pendingG = 0;
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" ||
      (el.closest && el.closest(".xterm"));
  }
  function pageFilter() {
    var main = document.querySelector("main");
    return (main && main.querySelector("form.filters input[type=search], form.filters input:not([type=hidden]):not([type=checkbox])")) ||
      document.getElementById("global-search");
  }
  document.addEventListener("keydown", function (e) {
    var keys = document.getElementById("keys");
    if (e.key === "Escape") {
      if (keys && keys.open) { keys.close(); return; }
      if (typing(document.activeElement) && document.activeElement.blur) document.activeElement.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key === "/") {
      var f = pageFilter();
      if (f) { e.preventDefault(); f.focus(); if (f.select) f.select(); }
      return;
    }
    if (e.key === "?") {
      if (keys && keys.showModal) { e.preventDefault(); keys.open ? keys.close() : keys.showModal(); }
      return;
    }
    if (pendingG && Date.now() - pendingG < 1500 && GO[e.key]) {
      pendingG = 0;
      e.preventDefault();
      var base = document.body.dataset.base || "";
      location.href = base + GO[e.key];
      return;
    }
    pendingG = e.key === "g" ? Date.now() : 0;
  });
  document.addEventListener("click", function (e) {
    if (e.target && e.target.closest && e.target.closest("[data-close-keys]")) {
      var keys = document.getElementById("keys");
      if (keys) keys.close();
    }
  });

  // Times: <time datetime> carries the instant; the title says it in the viewer's own zone and
  // the words ("3 minutes ago") stay current while the page is open.
  function ago(ms) {
    var d = Math.floor((Date.now() - ms) / 1000);
    if (d < 5) return "just now";
    var steps = [[31536000, "year"], [2592000, "month"], [86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];
    for (var i = 0; i < steps.length; i++) {
      if (d >= steps[i][0]) {
        var n = Math.floor(d / steps[i][0]);
        return n + " " + steps[i][1] + (n === 1 ? "" : "s") + " ago";
      }
    }
    return "just now";
  }
  function times(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (t) {
      var ms = Date.parse(t.getAttribute("datetime"));
      if (isNaN(ms)) return;
      if (!t.dataset.local) {
        t.title = new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "long" });
        t.dataset.local = "1";
      }
      if (!t.hasAttribute("data-fixed")) t.textContent = ago(ms);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { times(); });
  document.addEventListener("htmx:afterSettle", function (e) { times(e.target); });
  setInterval(function () { times(); }, 30000);

  // Live rows that a "Pause" checkbox holds: <el data-paused-by="CHECKBOX-ID"> makes no request
  // while it is checked; unchecking catches up at once.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var el = e.detail && e.detail.elt;
    var by = el && el.dataset && el.dataset.pausedBy;
    var box = by && document.getElementById(by);
    if (box && box.checked) e.preventDefault();
  });
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.dataset && t.dataset.pauseRows !== undefined && !t.checked) {
      document.body.dispatchEvent(new CustomEvent("berth-events-resume"));
    }
  });

  // "+ row" buttons: <button data-add-row="ID"> clones the last row of #ID, emptied.
  document.addEventListener("click", function (e) {
    var b = e.target && e.target.closest ? e.target.closest("[data-add-row]") : null;
    if (!b) return;
    var box = document.getElementById(b.dataset.addRow);
    var last = box && box.lastElementChild;
    if (!last) return;
    var row = last.cloneNode(true);
    row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
    box.appendChild(row);
  });
})();
