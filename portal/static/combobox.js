/* The combobox (components/combobox.html): WAI-ARIA 1.2 combobox with a listbox popup, list
   autocomplete. htmx fetches the options into the popup as the person types; this script gives
   the field its role and states and the keys. The count of matches that comes with the options is
   read out by the page's live region (portal.js, data-announce). The macro brings this script to
   the pages that have a combobox; it runs once however many there are. */
(function () {
  "use strict";
  if (window.portalCombobox) { return; }
  window.portalCombobox = true;
  var FIELD = "[data-combobox-input]";

  function isField(el) { return el && el.matches && el.matches(FIELD); }

  function listbox(input) { return document.getElementById(input.dataset.listbox); }

  function options(input) {
    var list = listbox(input);
    return list ? Array.prototype.slice.call(list.querySelectorAll('[role="option"]')) : [];
  }

  function fieldOf(list) { return document.querySelector(FIELD + '[data-listbox="' + list.id + '"]'); }

  function chosenField(input) {
    var box = input.closest("[data-combobox]");
    return box && box.querySelector("[data-combobox-value]");
  }

  function setActive(input, option) {
    options(input).forEach(function (item) {
      item.setAttribute("aria-selected", String(item === option));
      item.classList.toggle("is-active", item === option);
    });
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function setExpanded(input, open) {
    var list = listbox(input), shown = open && options(input).length > 0;
    if (list) { list.hidden = !shown; }
    input.setAttribute("aria-expanded", String(shown));
    if (!shown) { setActive(input, null); }
  }

  function setChosen(input, value, label) {
    var field = chosenField(input);
    input.value = label;
    input.dataset.chosen = label;
    if (field) { field.value = value; }
  }

  function choose(input, option) {
    setChosen(input, option.dataset.value, option.dataset.label);
    setExpanded(input, false);
    if (window.portalAnnounce) { window.portalAnnounce((input.dataset.chosenText || "") + " " + option.dataset.label); }
    input.dispatchEvent(new CustomEvent("combobox:chosen", {
      bubbles: true, detail: { value: option.dataset.value, label: option.dataset.label }
    }));
  }

  function enhance(root) {
    if (!root || !root.querySelectorAll) { return; }
    root.querySelectorAll(FIELD).forEach(function (input) {
      if (input.getAttribute("role") === "combobox") { return; }
      input.setAttribute("role", "combobox");
      input.setAttribute("aria-autocomplete", "list");
      input.setAttribute("aria-expanded", "false");
      input.setAttribute("aria-controls", input.dataset.listbox);
    });
  }
  enhance(document);
  // A combobox htmx brings in later (a row added to a form) is enhanced as it arrives.
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });

  // The arrows move through the options (round from the last to the first), Alt+arrows open and
  // close the list, Enter chooses (the next Enter sends the form), Escape closes, then empties.
  function move(down, open, at, count) {
    if (!open || at < 0) { return down ? 0 : count - 1; }
    return (at + (down ? 1 : count - 1)) % count;
  }

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!isField(input) || event.ctrlKey || event.metaKey) { return; }
    var items = options(input), open = input.getAttribute("aria-expanded") === "true";
    var at = items.indexOf(document.getElementById(input.getAttribute("aria-activedescendant") || ""));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!items.length) { return; }
      event.preventDefault();
      var down = event.key === "ArrowDown";
      if (event.altKey) { setExpanded(input, down); return; }
      setExpanded(input, true);
      setActive(input, items[move(down, open, at, items.length)]);
    } else if (event.key === "Enter" && open && at >= 0) {
      event.preventDefault();
      choose(input, items[at]);
    } else if (event.key === "Escape" && (open || input.value)) {
      event.preventDefault();
      if (open) { setExpanded(input, false); } else { setChosen(input, "", ""); }
    }
  });

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!isField(input)) { return; }
    var field = chosenField(input);
    if (field && input.value !== input.dataset.chosen) { field.value = ""; }  // the text no longer names it
    if (input.value.trim().length < 2) { setExpanded(input, false); }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var input = event.detail.elt;
    if (isField(input) && input.value.trim().length < 2) { event.preventDefault(); }  // too short to search
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var list = event.detail.target && event.detail.target.querySelector(".combobox-listbox");
    var input = list && fieldOf(list);
    if (input) { setExpanded(input, document.activeElement === input); }  // shown while the field has the focus
  });

  document.addEventListener("focusout", function (event) {
    if (isField(event.target)) { setExpanded(event.target, false); }
  });

  document.addEventListener("mousedown", function (event) {
    // A click on an option must not take the focus from the field, which would close the list.
    if (event.target.closest && event.target.closest(".combobox-listbox")) { event.preventDefault(); }
  });

  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest('.combobox-listbox [role="option"]');
    var input = option && fieldOf(option.parentNode);
    if (input) { choose(input, option); }
  });
})();
