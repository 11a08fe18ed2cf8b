/* The process map: a directly-follows graph drawn with cytoscape.js and laid out by dagre.
 *
 * Disco-style controls: Frequency / Performance (edge labels and weights show the count or the
 * median wait), an Activities slider (the most frequent share of activities) and a Paths slider
 * (the most frequent share of paths; every shown activity keeps its strongest way in and out, so
 * nothing floats). A click on an activity or a path lists the cases behind it (htmx swaps the
 * side panel). Observations pinned to an activity show as an orange ring and a count. */
(function () {
  "use strict";
  var dataEl = document.getElementById("map-data");
  var container = document.getElementById("process-map");
  if (!dataEl || !container || typeof cytoscape === "undefined") return;

  var data = JSON.parse(dataEl.textContent);
  var casesUrl = container.dataset.casesUrl;
  var START = "__start__";
  var END = "__end__";
  var activitiesSlider = document.getElementById("activities-slider");
  var pathsSlider = document.getElementById("paths-slider");
  var activitiesOut = document.getElementById("activities-out");
  var pathsOut = document.getElementById("paths-out");

  var nodesByFrequency = data.nodes.slice().sort(function (a, b) { return b.events - a.events; });
  var maxEvents = nodesByFrequency.length ? nodesByFrequency[0].events : 1;
  var bottleneckKey = data.bottleneck ? data.bottleneck[0] + "\u0000" + data.bottleneck[1] : null;

  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 60) return Math.round(s) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    if (s < 86400) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }
  function thousands(n) { return n.toLocaleString("en-US"); }
  function mode() {
    var checked = document.querySelector('input[name="map-mode"]:checked');
    return checked ? checked.value : "frequency";
  }

  /* Which activities and paths the sliders leave on the map. */
  function visible(activityPct, pathPct) {
    var count = Math.max(1, Math.round(nodesByFrequency.length * activityPct / 100));
    var shown = {};
    nodesByFrequency.slice(0, count).forEach(function (n) { shown[n.id] = n; });
    var candidates = data.edges.filter(function (e) { return shown[e.from] && shown[e.to]; })
      .map(function (e) { return Object.assign({ key: e.from + "\u0000" + e.to }, e); });
    Object.keys(data.start).forEach(function (a) {
      if (shown[a]) candidates.push({ key: START + a, from: START, to: a, count: data.start[a], artificial: true });
    });
    Object.keys(data.end).forEach(function (a) {
      if (shown[a]) candidates.push({ key: a + END, from: a, to: END, count: data.end[a], artificial: true });
    });
    candidates.sort(function (a, b) { return b.count - a.count; });
    var keep = {};
    candidates.slice(0, Math.round(candidates.length * pathPct / 100)).forEach(function (e) { keep[e.key] = true; });
    Object.keys(shown).forEach(function (id) {
      var inbound = candidates.find(function (e) { return e.to === id; });
      var outbound = candidates.find(function (e) { return e.from === id; });
      if (inbound) keep[inbound.key] = true;
      if (outbound) keep[outbound.key] = true;
    });
    return { shown: shown, edges: candidates.filter(function (e) { return keep[e.key]; }) };
  }

  function elements() {
    var view = visible(+activitiesSlider.value, +pathsSlider.value);
    var perf = mode() === "performance";
    var real = view.edges.filter(function (e) { return !e.artificial; });
    var maxCount = Math.max.apply(null, view.edges.map(function (e) { return e.count; }).concat([1]));
    var maxMedian = Math.max.apply(null, real.map(function (e) { return e.median_s || 0; }).concat([1]));
    var els = [
      { data: { id: START, label: "▶ start" }, classes: "terminal start" },
      { data: { id: END, label: "■ end" }, classes: "terminal end" }
    ];
    Object.keys(view.shown).forEach(function (id) {
      var n = view.shown[id];
      var pins = n.observations.length;
      var label = (pins ? "● " + pins + "  " : "") + id + "\n" + thousands(n.events);
      var longest = Math.max.apply(null, label.split("\n").map(function (l) { return l.length; }));
      els.push({
        data: { id: id, label: label, weight: n.events / maxEvents, pins: pins,
                w: Math.min(230, Math.max(90, longest * 8 + 24)) },
        classes: "activity" + (pins ? " pinned" : "") + (n.events / maxEvents > 0.45 ? " dark" : "")
      });
    });
    view.edges.forEach(function (e) {
      var weight = perf && !e.artificial ? (e.median_s || 0) / maxMedian : e.count / maxCount;
      var label = perf && !e.artificial ? duration(e.median_s) : thousands(e.count);
      var classes = e.artificial ? "artificial" : "path";
      if (e.key === bottleneckKey) classes += " bottleneck";
      if (perf && !e.artificial) classes += " perf";
      if (e.from === e.to) classes += " loop";
      els.push({
        data: { id: "e:" + e.key, source: e.from, target: e.to, label: label, weight: weight,
                from: e.from, to: e.to },
        classes: classes
      });
    });
    return els;
  }

  var cy = cytoscape({
    container: container,
    minZoom: 0.15,
    maxZoom: 3,
    style: [
      { selector: "node.activity", style: {
        "shape": "round-rectangle", "label": "data(label)", "text-wrap": "wrap", "text-max-width": 220,
        "text-valign": "center", "text-halign": "center", "font-size": 14, "color": "#1c2333",
        "width": "data(w)", "height": 44,
        "background-color": "mapData(weight, 0, 1, #e8eefe, #2447c2)",
        "border-width": 1, "border-color": "#9fb3ef" } },
      { selector: "node.activity.dark", style: { "color": "#fff" } },
      { selector: "node.pinned", style: { "border-width": 3, "border-color": "#f79009" } },
      { selector: "node.terminal", style: {
        "shape": "ellipse", "width": 46, "height": 46, "label": "data(label)", "font-size": 11,
        "text-valign": "center", "color": "#fff" } },
      { selector: "node.start", style: { "background-color": "#12b76a" } },
      { selector: "node.end", style: { "background-color": "#344054" } },
      { selector: "edge", style: {
        "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.9,
        "width": "mapData(weight, 0, 1, 1, 9)", "line-color": "#98a2b3", "target-arrow-color": "#98a2b3",
        "label": "data(label)", "font-size": 13, "color": "#344054",
        "text-background-color": "#fff", "text-background-opacity": 0.85, "text-background-padding": 2 } },
      { selector: "edge.artificial", style: { "line-style": "dashed", "line-color": "#c4cad6", "target-arrow-color": "#c4cad6", "width": 1.5 } },
      { selector: "edge.perf", style: { "line-color": "mapData(weight, 0, 1, #fdb022, #d92d20)", "target-arrow-color": "mapData(weight, 0, 1, #fdb022, #d92d20)" } },
      { selector: "edge.bottleneck", style: { "line-color": "#d92d20", "target-arrow-color": "#d92d20", "color": "#b42318", "font-weight": "bold" } },
      { selector: "edge.loop", style: { "loop-direction": "60deg", "loop-sweep": "-50deg", "control-point-step-size": 70 } },
      { selector: ":selected", style: { "overlay-color": "#2f5bea", "overlay-opacity": 0.18, "overlay-padding": 4 } }
    ]
  });

  function draw() {
    activitiesOut.textContent = activitiesSlider.value + "%";
    pathsOut.textContent = pathsSlider.value + "%";
    cy.elements().remove();
    cy.add(elements());
    cy.layout({ name: "dagre", rankDir: "TB", nodeSep: 40, rankSep: 55, edgeSep: 12, animate: false, fit: true, padding: 20 }).run();
  }

  var pending = null;
  function redraw() {
    if (pending) window.clearTimeout(pending);
    pending = window.setTimeout(draw, 60);
  }
  activitiesSlider.addEventListener("input", redraw);
  pathsSlider.addEventListener("input", redraw);
  document.querySelectorAll('input[name="map-mode"]').forEach(function (input) {
    input.addEventListener("change", draw);
  });
  document.getElementById("map-fit").addEventListener("click", function () { cy.fit(undefined, 20); });

  function showCases(query) {
    var url = casesUrl + "&" + query;
    if (window.htmx) {
      window.htmx.ajax("GET", url, { target: "#cases-panel", swap: "outerHTML" });
    } else {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        document.getElementById("cases-panel").outerHTML = html;
      });
    }
  }
  cy.on("tap", "node.activity", function (evt) {
    showCases("activity=" + encodeURIComponent(evt.target.id()));
  });
  cy.on("tap", "edge.path", function (evt) {
    var d = evt.target.data();
    showCases("from=" + encodeURIComponent(d.from) + "&to=" + encodeURIComponent(d.to));
  });

  draw();
  container.dataset.ready = "1";
  window.handoffProcessMap = cy;
})();
