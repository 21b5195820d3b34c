// A plugin's script: deferred, from the portal's own origin, no inline code (the CSP allows it).
(function () {
  "use strict";
  var status = document.getElementById("styled-script-status");
  if (!status) {
    return;
  }
  status.textContent = "The plugin's script ran.";
  status.setAttribute("data-ran", "yes");
})();
