/* The inbox's keyboard shortcuts and small conveniences; htmx does the requests.
 *
 *   j / k    move the selection down / up        Enter  open the selected case
 *   c        claim the selected (or open) case    x      tick the selected row for a bulk action
 *   /        search                              Esc    close the case
 */
(function () {
  "use strict";

  var selectedPk = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#inbox-table tbody tr[data-pk]"));
  }

  function rowOf(pk) {
    return pk ? document.getElementById("escalation-" + pk) : null;
  }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("is-selected"); r.removeAttribute("aria-selected"); });
    if (!row) { selectedPk = null; return; }
    selectedPk = row.dataset.pk;
    row.classList.add("is-selected");
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(rowOf(selectedPk));
    if (index === -1) index = all.indexOf(document.querySelector("#inbox-table tr.is-active"));
    var next = index === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(Math.max(index + step, 0), all.length - 1);
    select(all[next]);
  }

  function open(row) {
    var link = row && row.querySelector(".open-link");
    if (link) link.click();
  }

  function claim() {
    var row = rowOf(selectedPk);
    var button = row && row.querySelector('[data-action="claim"]');
    if (!button) button = document.querySelector('#inbox-panel [data-action="claim"]');
    if (button) button.click();
  }

  function markActive() {
    var panel = document.getElementById("inbox-panel");
    var pk = panel && panel.dataset.pk;
    rows().forEach(function (r) { r.classList.toggle("is-active", r.dataset.pk === pk); });
  }

  function updateBulk() {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var ticked = document.querySelectorAll('#inbox-list input[name="ids"]:checked').length;
    form.classList.toggle("bulk--active", ticked > 0);
    form.querySelectorAll("button").forEach(function (b) { b.disabled = ticked === 0; });
    var label = form.querySelector("[data-bulk-label]");
    if (label) label.textContent = ticked ? ticked + " selected:" : "Tick cases to act on several:";
    var all = document.querySelector("#inbox-table .select-all");
    var boxes = document.querySelectorAll('#inbox-list input[name="ids"]');
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  }

  function typing(element) {
    return element && element.closest && element.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.metaKey || event.ctrlKey || event.altKey) return;
    if (event.key === "Escape") {
      if (typing(event.target)) { event.target.blur(); return; }
      var close = document.querySelector("#inbox-panel .panel__close");
      if (close) { event.preventDefault(); close.click(); }
      return;
    }
    if (typing(event.target)) return;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter":
        if (event.target.closest("a, button")) return;
        open(rowOf(selectedPk));
        break;
      case "c": claim(); break;
      case "x": {
        var box = rowOf(selectedPk) && rowOf(selectedPk).querySelector('input[name="ids"]');
        if (box) { box.checked = !box.checked; updateBulk(); }
        break;
      }
      case "/": {
        var search = document.getElementById("id_q");
        if (search) search.focus();
        break;
      }
      default: return;
    }
    event.preventDefault();
  });

  // A click anywhere on a row opens the case (links, buttons and boxes keep their own job).
  document.addEventListener("click", function (event) {
    var row = event.target.closest("#inbox-table tbody tr[data-pk]");
    if (!row || event.target.closest("a, button, input, select, label, form")) return;
    select(row);
    open(row);
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("#inbox-table .select-all")) {
      document.querySelectorAll('#inbox-list input[name="ids"]').forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    if (event.target.matches('#inbox-list input[name="ids"], #inbox-table .select-all')) updateBulk();
  });

  document.addEventListener("htmx:configRequest", function (event) {
    // The filter form asks for the address the page is at now (an open case stays open).
    if (event.detail.elt && event.detail.elt.id === "inbox-filters") {
      event.detail.path = window.location.pathname;
      // Leave the filters nobody set out of the address: /inbox/?reason=timeout, not ?q=&…
      var form = event.detail.formData;
      var empty = [];
      form.forEach(function (value, key) { if (value === "") empty.push(key); });
      empty.forEach(function (key) { form.delete(key); });
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === "inbox-list") {
      var row = rowOf(selectedPk);
      if (row) { row.classList.add("is-selected"); } else { selectedPk = null; }
      markActive();
      updateBulk();
    }
    if (target.id === "inbox-panel") {
      markActive();
      var panel = document.getElementById("inbox-panel");
      if (panel && panel.dataset.pk && window.matchMedia("(max-width: 1100px)").matches) {
        panel.scrollTop = 0;
      }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    markActive();
    updateBulk();
  });
})();
