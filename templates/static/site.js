// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // A "Print" button on the referral summary (plain browser printing works without it).
  document.querySelectorAll(".js-print").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  // Move focus to the error summary so screen readers announce what went wrong.
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
})();
