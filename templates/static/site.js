// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.className += " js";
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

  // ---- Filters apply as they change (without JS: the Apply buttons) ----
  var form = document.getElementById("search-form");
  var filters = document.getElementById("filters");
  if (form && filters) {
    var wide = window.matchMedia && window.matchMedia("(min-width: 60em)").matches;
    // On a wide screen the filters sit in their own column: show them open.
    if (wide) { filters.open = true; }
    var submitFrom = function (control) {
      // Come back to the control just changed, so keyboard and screen-reader users keep their place.
      if (control.id) {
        form.action = form.action.split("#")[0] + "#" + control.id;
      }
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    };
    filters.addEventListener("change", function (event) {
      if (event.target && event.target.matches("input[type=checkbox]")) { submitFrom(event.target); }
    });
    document.querySelectorAll(".js-autosubmit").forEach(function (select) {
      select.addEventListener("change", function () { submitFrom(select); });
    });
    // After such a reload: open the filters and put focus back on that control.
    var target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (target && filters.contains(target)) { filters.open = true; target.focus(); }
    else if (target && target.classList.contains("js-autosubmit")) { target.focus(); }
  }

  // ---- Shortlist: the address holds it; local storage keeps a copy between searches ----
  var KEY = "physio-finder-shortlist";
  var stored = function () {
    try { return (window.localStorage.getItem(KEY) || "").split(",").filter(function (v) { return /^\d+$/.test(v); }); }
    catch (e) { return []; }
  };
  var remember = function (ids) {
    try { window.localStorage.setItem(KEY, ids.join(",")); } catch (e) { /* storage off: the address still works */ }
  };
  var list = document.querySelector(".shortlist[data-ids]");
  if (list) { remember(list.dataset.ids.split(",")); }
  else if (document.querySelector(".page-shortlist")) { remember([]); }
  var kept = stored();
  if (kept.length) {
    document.querySelectorAll("a.js-shortlist-add").forEach(function (link) {
      var url = new URL(link.href, window.location.href);
      var ids = (url.searchParams.get("ids") || "").split(",").filter(Boolean);
      kept.forEach(function (id) { if (ids.indexOf(id) < 0) { ids.unshift(id); } });
      url.searchParams.set("ids", ids.join(","));
      link.href = url.pathname + url.search;
      if (kept.indexOf(link.dataset.id) >= 0) {
        link.firstChild.textContent = "On your shortlist";
      }
    });
    var slot = document.querySelector(".js-shortlist-slot");
    if (slot) {
      var a = document.createElement("a");
      a.href = "/shortlist?ids=" + kept.join(",");
      a.textContent = "Your shortlist (" + kept.length + ")";
      slot.appendChild(a);
      slot.hidden = false;
    }
  }
})();
