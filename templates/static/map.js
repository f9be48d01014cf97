// Optional tiled map (progressive enhancement): only loaded when the operator sets
// MAP_TILES_URL. The server-drawn picture and the numbered list stay the text
// alternative. Every name is inserted as text, never as HTML.
(function () {
  "use strict";
  var box = document.querySelector(".tile-map");
  if (!box || typeof window.L === "undefined") { return; }
  var L = window.L;
  var lat = parseFloat(box.dataset.lat);
  var lon = parseFloat(box.dataset.lon);
  var radiusKm = parseFloat(box.dataset.radiusKm);
  if (!isFinite(lat) || !isFinite(lon)) { return; }

  var pins = Array.prototype.map.call(box.querySelectorAll("li[data-number]"), function (item) {
    return {
      number: parseInt(item.dataset.number, 10),
      lat: parseFloat(item.dataset.lat),
      lon: parseFloat(item.dataset.lon),
      name: item.dataset.name || ""
    };
  });
  box.textContent = "";
  box.hidden = false;
  var canvas = document.createElement("div");
  canvas.className = "tile-map-canvas";
  box.appendChild(canvas);

  var map = L.map(canvas, { scrollWheelZoom: false, attributionControl: true });
  var attribution = document.createElement("span");
  attribution.textContent = box.dataset.attribution || "";
  L.tileLayer(box.dataset.tiles, { maxZoom: 18, attribution: attribution.innerHTML }).addTo(map);

  L.circleMarker([lat, lon], { radius: 8, color: "#0b0c0c", weight: 4, fillColor: "#ffffff", fillOpacity: 1 })
    .addTo(map).bindTooltip("Search point");
  if (isFinite(radiusKm)) {
    L.circle([lat, lon], { radius: radiusKm * 1000, color: "#505a5f", weight: 2, dashArray: "6 5", fill: false }).addTo(map);
  }
  var bounds = L.latLngBounds([[lat, lon]]);
  pins.forEach(function (pin) {
    if (!isFinite(pin.lat) || !isFinite(pin.lon) || !isFinite(pin.number)) { return; }
    var icon = L.divIcon({ className: "leaflet-pin", html: String(pin.number), iconSize: [30, 30] });
    var link = document.createElement("a");
    link.href = "#result-" + pin.number;
    link.textContent = pin.number + ". " + pin.name;
    L.marker([pin.lat, pin.lon], { icon: icon, title: pin.number + ". " + pin.name, alt: pin.name, keyboard: true })
      .addTo(map).bindPopup(link);
    bounds.extend([pin.lat, pin.lon]);
  });
  map.fitBounds(bounds.pad(0.15), { maxZoom: 14 });
})();
