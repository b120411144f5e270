// Logs pages: follows a log over server-sent events and shows it as text. Lines are put in text
// nodes only (never innerHTML); ANSI colour codes become spans with classes.
(function () {
  "use strict";
  var form = document.getElementById("log-opts");
  var box = document.getElementById("log");
  if (!form || !box) return;
  var statusEl = document.getElementById("log-status");
  var errorEl = document.getElementById("log-error");
  var hitsEl = document.getElementById("log-hits");
  var pauseBtn = form.querySelector('[data-log="pause"]');
  var max = parseInt(form.dataset.max, 10) || 5000;
  var es = null, paused = false, pending = [], scheduled = false, received = 0, needle = "", only = false;

  function setStatus(t) { statusEl.textContent = t; }

  // ---- ANSI SGR -> segments {text, cls[], style}
  var ESC = /\x1b\[([0-9;?]*)([A-Za-z])/g;
  function color256(n) {
    if (n < 16) return null;
    if (n >= 232) { var g = 8 + (n - 232) * 10; return "rgb(" + g + "," + g + "," + g + ")"; }
    n -= 16;
    var v = [0, 95, 135, 175, 215, 255];
    return "rgb(" + v[Math.floor(n / 36)] + "," + v[Math.floor(n / 6) % 6] + "," + v[n % 6] + ")";
  }
  function parseAnsi(text) {
    var out = [], st = { fg: null, bg: null, fgc: null, bgc: null, b: false, d: false, i: false, u: false };
    var last = 0, m;
    ESC.lastIndex = 0;
    function push(t) {
      if (!t) return;
      var cls = [], style = {};
      if (st.fg !== null) cls.push("ansi-fg-" + st.fg);
      if (st.bg !== null) cls.push("ansi-bg-" + st.bg);
      if (st.fgc) style.color = st.fgc;
      if (st.bgc) style.backgroundColor = st.bgc;
      if (st.b) cls.push("ansi-bold");
      if (st.d) cls.push("ansi-dim");
      if (st.i) cls.push("ansi-italic");
      if (st.u) cls.push("ansi-underline");
      out.push({ text: t, cls: cls, style: style });
    }
    while ((m = ESC.exec(text)) !== null) {
      push(text.slice(last, m.index));
      last = ESC.lastIndex;
      if (m[2] !== "m") continue; // other CSI sequences (cursor, erase) are dropped
      var codes = m[1] === "" ? [0] : m[1].split(";").map(function (x) { return parseInt(x, 10) || 0; });
      for (var k = 0; k < codes.length; k++) {
        var c = codes[k];
        if (c === 0) { st = { fg: null, bg: null, fgc: null, bgc: null, b: false, d: false, i: false, u: false }; }
        else if (c === 1) st.b = true;
        else if (c === 2) st.d = true;
        else if (c === 3) st.i = true;
        else if (c === 4) st.u = true;
        else if (c === 22) { st.b = false; st.d = false; }
        else if (c === 23) st.i = false;
        else if (c === 24) st.u = false;
        else if (c >= 30 && c <= 37) { st.fg = c - 30; st.fgc = null; }
        else if (c >= 90 && c <= 97) { st.fg = c - 90 + 8; st.fgc = null; }
        else if (c === 39) { st.fg = null; st.fgc = null; }
        else if (c >= 40 && c <= 47) { st.bg = c - 40; st.bgc = null; }
        else if (c >= 100 && c <= 107) { st.bg = c - 100 + 8; st.bgc = null; }
        else if (c === 49) { st.bg = null; st.bgc = null; }
        else if ((c === 38 || c === 48) && codes[k + 1] === 5) {
          var n = codes[k + 2] || 0, rgb = color256(n);
          if (c === 38) { st.fg = rgb ? null : n; st.fgc = rgb; } else { st.bg = rgb ? null : n; st.bgc = rgb; }
          k += 2;
        } else if ((c === 38 || c === 48) && codes[k + 1] === 2) {
          var col = "rgb(" + [codes[k + 2], codes[k + 3], codes[k + 4]].map(function (x) { return Math.min(255, x || 0); }).join(",") + ")";
          if (c === 38) { st.fg = null; st.fgc = col; } else { st.bg = null; st.bgc = col; }
          k += 4;
        }
      }
    }
    push(text.slice(last));
    return out;
  }

  function plain(text) { return text.replace(ESC, ""); }

  // Appends `text` to `el`, with the search term's matches in <mark>.
  function appendMarked(el, text) {
    if (!needle) { el.appendChild(document.createTextNode(text)); return 0; }
    var low = text.toLowerCase(), at = 0, hits = 0, i;
    while ((i = low.indexOf(needle, at)) !== -1) {
      if (i > at) el.appendChild(document.createTextNode(text.slice(at, i)));
      var mk = document.createElement("mark");
      mk.textContent = text.slice(i, i + needle.length);
      el.appendChild(mk);
      at = i + needle.length;
      hits++;
    }
    if (at < text.length) el.appendChild(document.createTextNode(text.slice(at)));
    return hits;
  }

  function paint(div) {
    while (div.firstChild) div.removeChild(div.firstChild);
    var l = div._line, hits = 0;
    if (l.c) {
      var tag = document.createElement("span");
      tag.className = "log-ctr";
      tag.textContent = l.c;
      div.appendChild(tag);
    }
    parseAnsi(l.t).forEach(function (seg) {
      var sp = document.createElement("span");
      if (seg.cls.length) sp.className = seg.cls.join(" ");
      if (seg.style.color) sp.style.color = seg.style.color;
      if (seg.style.backgroundColor) sp.style.backgroundColor = seg.style.backgroundColor;
      hits += appendMarked(sp, seg.text);
      div.appendChild(sp);
    });
    div.classList.toggle("hit", hits > 0);
    div.hidden = only && needle !== "" && hits === 0;
    return hits;
  }

  function lineDiv(l) {
    var div = document.createElement("div");
    div.className = "ln " + (l.s === "err" ? "err" : "out");
    div._line = l;
    if (needle) paint(div); else {
      // Fast path: plain lines (the common case) need no parsing.
      if (l.c || l.t.indexOf("\x1b") !== -1) paint(div); else div.textContent = l.t;
    }
    return div;
  }

  function flush() {
    scheduled = false;
    if (!pending.length) return;
    var batch = pending.length > max ? pending.slice(pending.length - max) : pending;
    pending = [];
    var frag = document.createDocumentFragment();
    for (var i = 0; i < batch.length; i++) frag.appendChild(lineDiv(batch[i]));
    box.appendChild(frag);
    var extra = box.childElementCount - max;
    while (extra-- > 0) box.removeChild(box.firstChild);
    if (!paused) box.scrollTop = box.scrollHeight;
    setStatus((es ? "following" : "stopped") + " · " + received + " lines received, " + box.childElementCount + " shown" + (paused ? " · paused" : ""));
    if (needle) countHits();
  }

  function countHits() {
    var n = box.querySelectorAll(".ln.hit").length;
    hitsEl.textContent = needle ? n + " matching" : "";
  }

  function repaintAll() {
    for (var el = box.firstElementChild; el; el = el.nextElementSibling) paint(el);
    countHits();
  }

  function query() {
    var p = new URLSearchParams();
    var f = form.elements;
    if (f.tail.value.trim()) p.set("tail", f.tail.value.trim());
    if (f.since.value.trim()) p.set("since", f.since.value.trim());
    if (f.timestamps.checked) p.set("timestamps", "true");
    if (!f.stdout.checked) p.set("no_stdout", "true");
    if (!f.stderr.checked) p.set("no_stderr", "true");
    return p.toString();
  }

  function open() {
    if (es) es.close();
    pending = [];
    received = 0;
    while (box.firstChild) box.removeChild(box.firstChild);
    errorEl.textContent = "";
    var base = form.dataset.stream, q = query();
    var url = base + (q ? (base.indexOf("?") === -1 ? "?" : "&") + q : "");
    var dl = form.querySelector('[data-log="download"]');
    if (dl) dl.href = form.dataset.download + "?download=1" + (q ? "&" + q.replace(/(^|&)tail=[^&]*/, "") : "");
    es = new EventSource(url);
    setStatus("connecting…");
    es.addEventListener("open", function () { setStatus("following"); });
    es.addEventListener("lines", function (e) {
      var lines = JSON.parse(e.data);
      received += lines.length;
      for (var i = 0; i < lines.length; i++) pending.push(lines[i]);
      if (pending.length > 2 * max) pending = pending.slice(pending.length - max);
      if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
    });
    es.addEventListener("end", function () {
      es.close(); es = null;
      flush();
      setStatus("the log ended (the container is not running) · " + received + " lines");
    });
    es.addEventListener("failure", function (e) {
      es.close(); es = null;
      var f = {};
      try { f = JSON.parse(e.data); } catch (x) { /* keep the generic message */ }
      errorEl.textContent = f.error || "The log could not be read.";
      setStatus("stopped");
    });
    es.onerror = function () {
      if (es && es.readyState === EventSource.CLOSED) setStatus("disconnected");
      else if (es) setStatus("reconnecting…");
    };
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); open(); });
  form.addEventListener("change", function (e) {
    var n = e.target.name;
    if (n === "find") return;
    if (n === "only") { only = e.target.checked; repaintAll(); return; }
    open();
  });
  var t = null;
  form.elements.find.addEventListener("input", function () {
    clearTimeout(t);
    t = setTimeout(function () {
      needle = form.elements.find.value.toLowerCase();
      repaintAll();
    }, 200);
  });
  pauseBtn.addEventListener("click", function () {
    paused = !paused;
    pauseBtn.textContent = paused ? "Resume" : "Pause";
    pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
    if (!paused) box.scrollTop = box.scrollHeight;
    flush();
  });
  form.querySelector('[data-log="clear"]').addEventListener("click", function () {
    while (box.firstChild) box.removeChild(box.firstChild);
    countHits();
  });
  window.addEventListener("pagehide", function () { if (es) es.close(); });
  open();
})();
