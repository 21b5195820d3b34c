/* Medkarta: the one script. It only enhances pages that already work without it.
   - sends the CSRF token with every htmx request;
   - after a swap, moves focus where it belongs and tells screen readers what changed;
   - when a request fails, says so instead of failing silently. */
(function () {
  "use strict";
  var live = function () { return document.getElementById("live-region"); };

  function announce(text) {
    var region = live();
    if (!region || !text) { return; }
    region.textContent = "";
    // A fresh text node after a tick makes screen readers announce repeated messages too.
    window.setTimeout(function () { region.textContent = text.trim().replace(/\s+/g, " "); }, 50);
  }

  window.portalAnnounce = announce;  // combobox.js

  function focusElement(el) {
    if (!el) { return; }
    if (!el.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) {
      el.setAttribute("tabindex", "-1");
    }
    el.focus();
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
    // A filter form drops empty fields: the address it pushes stays short, as the server's links.
    var data = event.detail.formData;
    if (event.detail.verb === "get" && data) {
      var empty = [];
      data.forEach(function (value, name) { if (value === "") { empty.push(name); } });
      empty.forEach(function (name) { data.delete(name); });
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.isConnected) {
      target = document.getElementById(event.detail.target && event.detail.target.id) || document.body;
    }
    var scope = document.getElementById(target.id) || target;
    // A self-updating status (a file being prepared) is a live region: focus stays put.
    if (scope.hasAttribute("data-keep-focus")) { return; }
    var message = scope.querySelector("[data-announce]");
    if (message) { announce(message.textContent); }
    // Errors take focus; else focus stays where the user typed, or moves to the new content
    // when the link followed was swapped away. Errors also go into the title (GOV.UK).
    var summary = scope.querySelector("[data-title-prefix]");
    if (summary && document.title.indexOf(summary.dataset.titlePrefix) !== 0) {
      document.title = summary.dataset.titlePrefix + " " + document.title;
    }
    var focusTarget = scope.querySelector("[data-focus]");
    var active = document.activeElement;
    if (focusTarget) {
      focusElement(focusTarget);
    } else if (!active || active === document.body || !active.isConnected) {
      focusElement(scope);
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    // Pages answer a bad request with 400 and the form with its errors: swap that in too.
    if (event.detail.xhr.status === 400 || event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function failed(text) {
    announce(text);
    var region = live();
    if (region) { region.classList.remove("visually-hidden"); region.classList.add("notice", "notice-error"); }
  }

  // Idle timeout (WCAG 2.2.1): warn before the server ends an idle session, and let the person
  // stay signed in with one button. The server decides; this only warns in time.
  var idle = document.getElementById("idle-warning");
  if (idle) {
    var idleMs = parseInt(idle.dataset.idleSeconds, 10) * 1000;
    var warnMs = parseInt(idle.dataset.warnSeconds, 10) * 1000;
    var warnTimer, endTimer;
    var arm = function () {
      window.clearTimeout(warnTimer);
      window.clearTimeout(endTimer);
      idle.hidden = true;
      warnTimer = window.setTimeout(function () {
        idle.hidden = false;
        focusElement(idle.querySelector("button"));
        announce(idle.querySelector("p").textContent);
      }, Math.max(idleMs - warnMs, 0));
      endTimer = window.setTimeout(function () { window.location.reload(); }, idleMs + 1000);
    };
    idle.querySelector("form").addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.successful) { arm(); announce(idle.dataset.keptText || ""); }
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      if (!idle.contains(event.target)) { arm(); }
    });
    arm();
  }

  // The menu moves into the header behind a disclosure button; Escape closes it.
  var header = document.querySelector(".site-header"), menuLink = document.getElementById("menu-toggle"),
    menu = document.getElementById("menu"), tools = document.getElementById("header-tools");
  if (header && menuLink && menu && tools) {
    var toggle = document.createElement("button");
    toggle.id = menuLink.id;
    toggle.className = "menu-button";
    toggle.textContent = menuLink.textContent;
    toggle.setAttribute("aria-controls", "header-tools menu");
    var setMenu = function (open) {
      toggle.setAttribute("aria-expanded", String(open));
      header.classList.toggle("menu-closed", !open);
    };
    setMenu(false);
    menuLink.parentNode.replaceChild(toggle, menuLink);
    toggle.parentNode.appendChild(tools);
    header.appendChild(menu);
    toggle.addEventListener("click", function () {
      setMenu(header.classList.contains("menu-closed"));
    });
    header.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !header.classList.contains("menu-closed")) {
        setMenu(false);
        toggle.focus();
      }
    });
  }

  document.addEventListener("htmx:responseError", function () {
    var region = live();
    failed(region && region.dataset.errorText);
  });
  document.addEventListener("htmx:sendError", function () {
    var region = live();
    failed(region && region.dataset.offlineText);
  });
})();
