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
