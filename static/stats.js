// Stats page: live uPlot charts fed by server-sent events (one sample per second).
(function () {
  "use strict";
  var root = document.getElementById("stats");
  if (!root || !window.uPlot) return;
  var WINDOW = 300; // samples kept: five minutes
  var statusEl = document.getElementById("stats-status");
  var t = [], cpu = [], mem = [], rx = [], tx = [], br = [], bw = [];
  var limit = 0;

  // Decimal units (powers of 1000), as every size in Berth and `docker images` / `docker system df`.
  function decimal(b) {
    var u = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (b >= 1000 && i < u.length - 1) { b /= 1000; i++; }
    return (i === 0 ? b.toFixed(0) : b < 10 ? b.toFixed(2) : b.toFixed(1)) + " " + u[i];
  }
  function rate(b) { return decimal(b) + "/s"; }
  function set(name, text) { var el = root.querySelector('[data-stat="' + name + '"]'); if (el) el.textContent = text; }

  // Axis text and grid in the page's own colours, so charts read in the light and dark themes.
  function css(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }
  function ink() { return css("--pico-color", "#333"); }
  function grid() { return css("--pico-muted-border-color", "rgba(0,0,0,0.1)"); }

  function chart(name, series, fmt) {
    var el = root.querySelector('[data-chart="' + name + '"]');
    var opts = {
      width: Math.max(260, el.clientWidth || 400), height: 160,
      legend: { show: true },
      scales: { x: { time: true } },
      axes: [{ stroke: ink(), grid: { stroke: grid() }, ticks: { stroke: grid() } },
             { values: function (u, vals) { return vals.map(fmt); }, size: 70, stroke: ink(), grid: { stroke: grid() }, ticks: { stroke: grid() } }],
      series: [{}].concat(series)
    };
    var data = [t].concat(series.map(function (s) { return s.data; }));
    var plot = new uPlot(opts, data, el);
    plot._el = el;
    plot._series = series;
    return plot;
  }
  var charts = [
    chart("cpu", [{ label: "CPU %", stroke: "#1e88e5", fill: "rgba(30,136,229,0.1)", data: cpu }], function (v) { return v.toFixed(0) + " %"; }),
    chart("mem", [{ label: "in use", stroke: "#8e24aa", fill: "rgba(142,36,170,0.1)", data: mem }], decimal),
    chart("net", [{ label: "received", stroke: "#43a047", data: rx }, { label: "sent", stroke: "#fb8c00", data: tx }], decimal),
    chart("blk", [{ label: "read", stroke: "#00897b", data: br }, { label: "written", stroke: "#e53935", data: bw }], decimal)
  ];

  function push(s) {
    if (!s.cpu_valid && t.length) return;
    t.push(s.at / 1000);
    cpu.push(s.cpu_valid ? s.cpu_percent : null);
    mem.push(s.memory_usage);
    rx.push(s.net_rx_rate); tx.push(s.net_tx_rate);
    br.push(s.block_read_rate); bw.push(s.block_write_rate);
    [t, cpu, mem, rx, tx, br, bw].forEach(function (a) { if (a.length > WINDOW) a.shift(); });
    limit = s.memory_limit;
    set("cpu", s.cpu_valid ? s.cpu_percent.toFixed(2) + " %" : "…");
    // Windows engines report the private working set, with no limit to compare it with.
    set("mem", s.windows ? decimal(s.memory_usage) + " private working set"
      : decimal(s.memory_usage) + " / " + (limit ? decimal(limit) + " (" + s.memory_percent.toFixed(2) + " %)" : "no limit"));
    set("net", decimal(s.net_rx) + " / " + decimal(s.net_tx) + " · now " + rate(s.net_rx_rate) + " / " + rate(s.net_tx_rate));
    set("blk", decimal(s.block_read) + " / " + decimal(s.block_write));
    set("pids", s.pids == null ? "—" : String(s.pids));
    set("cpus", String(s.online_cpus));
  }
  function redraw() {
    charts.forEach(function (c) {
      c.setData([t].concat(c._series.map(function (s) { return s.data; })));
      c._el.dataset.points = String(t.length);
    });
  }

  var es = new EventSource(root.dataset.stream);
  es.addEventListener("history", function (e) { JSON.parse(e.data).forEach(push); redraw(); statusEl.textContent = "live"; });
  es.addEventListener("sample", function (e) { push(JSON.parse(e.data)); redraw(); statusEl.textContent = "live · " + t.length + " samples"; });
  es.addEventListener("end", function () { es.close(); statusEl.textContent = "the container stopped"; });
  es.addEventListener("failure", function (e) {
    es.close();
    var f = {}; try { f = JSON.parse(e.data); } catch (x) { /* generic message below */ }
    statusEl.textContent = f.error || "Stats are not available.";
  });
  es.onerror = function () { if (es.readyState === EventSource.CLOSED) statusEl.textContent = "disconnected"; };
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.setSize({ width: Math.max(260, c._el.clientWidth), height: 160 }); });
  });
  window.addEventListener("pagehide", function () { es.close(); });
})();
