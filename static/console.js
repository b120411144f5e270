// Console page: xterm.js attached to a websocket that the server bridges to an engine exec
// (or to the main process). Resizes go by POST; the socket carries only terminal bytes.
(function () {
  "use strict";
  var form = document.getElementById("console-opts");
  var panel = document.getElementById("terminal");
  if (!form || !panel || !window.Terminal) return;
  var base = form.dataset.base;
  var statusEl = document.getElementById("console-status");
  var errorEl = document.getElementById("console-error");
  var connectBtn = form.querySelector('[data-console="connect"]');
  var disconnectBtn = form.querySelector('[data-console="disconnect"]');
  var term = new Terminal({ cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 5000 });
  var fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(panel);
  fit.fit();
  function showSize() { panel.dataset.cols = term.cols; panel.dataset.rows = term.rows; }
  showSize();
  var socket = null, attachAddon = null, execId = null, attached = false, resizeTimer = null;

  function setStatus(t) { statusEl.textContent = t; }
  function post(url, params) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params).toString()
    });
  }

  // Copy and paste with Ctrl+Shift+C / Ctrl+Shift+V (plain Ctrl+C stays an interrupt).
  term.attachCustomKeyEventHandler(function (e) {
    if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
    if (e.code === "KeyC" && term.hasSelection() && navigator.clipboard) {
      navigator.clipboard.writeText(term.getSelection());
      return false;
    }
    if (e.code === "KeyV" && navigator.clipboard && navigator.clipboard.readText) {
      navigator.clipboard.readText().then(function (t) { term.paste(t); });
      return false;
    }
    return true;
  });

  function sendSize() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    var p = { cols: term.cols, rows: term.rows };
    if (execId) p.exec = execId;
    post(base + "/resize", p);
  }
  term.onResize(function () { showSize(); clearTimeout(resizeTimer); resizeTimer = setTimeout(sendSize, 150); });
  window.addEventListener("resize", function () { fit.fit(); });
  if (window.ResizeObserver) new ResizeObserver(function () { fit.fit(); }).observe(panel);

  function connected(on) {
    connectBtn.disabled = on;
    disconnectBtn.disabled = !on;
  }

  function openSocket(query) {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(proto + location.host + base + "/ws?" + query);
    attachAddon = new AttachAddon.AttachAddon(socket);
    term.loadAddon(attachAddon);
    socket.addEventListener("open", function () {
      setStatus(attached ? "attached" : "connected");
      connected(true);
      sendSize();
      term.focus();
    });
    socket.addEventListener("close", function (e) {
      setStatus("closed" + (e.reason ? ": " + e.reason : ""));
      term.write("\r\n\x1b[2m[session closed" + (e.reason ? ": " + e.reason : "") + "]\x1b[0m\r\n");
      if (attachAddon) { attachAddon.dispose(); attachAddon = null; }
      socket = null;
      connected(false);
    });
    socket.addEventListener("error", function () { errorEl.textContent = "The console connection failed."; });
  }

  form.elements.shell.addEventListener("change", function () {
    form.elements.custom.hidden = form.elements.shell.value !== "custom";
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (socket) return;
    errorEl.textContent = "";
    term.reset();
    fit.fit();
    var shell = form.elements.shell.value;
    attached = shell === "attach";
    execId = null;
    if (attached) { openSocket("attach=1"); return; }
    setStatus("starting…");
    post(base + "/exec", {
      shell: shell, custom: form.elements.custom.value, user: form.elements.user.value,
      cols: term.cols, rows: term.rows
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, j: j }; });
    }).then(function (res) {
      if (!res.ok) { errorEl.textContent = res.j.error || "The console could not start."; setStatus("not connected"); return; }
      execId = res.j.exec;
      openSocket("exec=" + encodeURIComponent(execId) + "&cols=" + term.cols + "&rows=" + term.rows);
    }).catch(function () { errorEl.textContent = "The console could not start."; setStatus("not connected"); });
  });
  disconnectBtn.addEventListener("click", function () { if (socket) socket.close(1000, "closed by the user"); });
  window.addEventListener("pagehide", function () { if (socket) socket.close(1000, "page left"); });
})();
