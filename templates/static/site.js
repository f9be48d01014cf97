// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // A "Print" button on the referral summary (plain browser printing works without it).
  document.querySelectorAll(".js-print").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  // "Use my location": the browser's position (only if the user allows it) becomes the search point.
  document.querySelectorAll(".js-near-me").forEach(function (button) {
    if (!("geolocation" in navigator)) { return; }
    var form = button.form || document.getElementById("search-form");
    var status = document.querySelector(".js-near-me-status");
    button.hidden = false;
    function field(name) {
      var input = form.querySelector("input[type=hidden][name=" + name + "]");
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        form.appendChild(input);
      }
      return input;
    }
    function say(text) {
      if (status) { status.hidden = false; status.textContent = text; }
    }
    button.addEventListener("click", function () {
      say("Finding where you are…");
      navigator.geolocation.getCurrentPosition(function (position) {
        var label = button.getAttribute("data-label") || "Your location";
        field("lat").value = position.coords.latitude.toFixed(5);
        field("lon").value = position.coords.longitude.toFixed(5);
        field("label").value = label;
        var near = form.querySelector("[name=near]");
        if (near) { near.value = label; }
        form.submit();
      }, function () {
        say("We could not get your location. Type your postcode or town instead.");
      }, { timeout: 10000, maximumAge: 600000 });
    });
  });
  // Move focus to the error summary so screen readers announce what went wrong.
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
})();
