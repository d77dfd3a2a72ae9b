/* leadfollow: keep <time data-lf-countdown> deadlines live ("due in 35 min", "overdue by 2 h").
 * The server renders the same text, so without JavaScript the page is merely static.
 * Phrases come translated from <script id="lf-countdown-strings" type="application/json">. */
(function () {
  "use strict";

  var DUE_SOON_MS = 15 * 60 * 1000;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) {
      return values[key];
    });
  }

  function text(ms, s) {
    // Time left rounds up, time overdue rounds down (as the server does).
    var minutes = ms >= 0 ? Math.ceil(ms / 60000) : Math.floor(-ms / 60000);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    var span;
    if (days) span = fill(hours ? s.days : s.whole_days, { days: days, hours: hours });
    else if (hours) span = fill(mins ? s.hours : s.whole_hours, { hours: hours, minutes: mins });
    else if (mins) span = fill(s.minutes, { minutes: mins });
    else span = s.under_a_minute;
    return fill(ms >= 0 ? s.due : s.overdue, { time: span });
  }

  function start() {
    var source = document.getElementById("lf-countdown-strings");
    if (!source) return;
    var strings = JSON.parse(source.textContent);
    // Trust the server's clock: measure the offset once, against the page's render time.
    var serverNow = document.querySelector("[data-lf-server-now]");
    var offset = 0;
    if (serverNow) {
      var parsed = Date.parse(serverNow.getAttribute("data-lf-server-now"));
      if (!isNaN(parsed)) offset = parsed - Date.now();
    }

    function tick() {
      var now = Date.now() + offset;
      // Looked up each time: livequeue.js swaps rows in.
      var nodes = document.querySelectorAll("time[data-lf-countdown]");
      for (var i = 0; i < nodes.length; i++) {
        var node = nodes[i];
        var at = Date.parse(node.getAttribute("datetime"));
        if (isNaN(at)) continue;
        var ms = at - now;
        var label = text(ms, strings);
        if (node.textContent !== label) node.textContent = label;
        node.classList.toggle("lf-overdue", ms < 0);
        node.classList.toggle("lf-due-soon", ms >= 0 && ms < DUE_SOON_MS);
        node.classList.toggle("lf-badge", ms >= DUE_SOON_MS);
        var row = node.closest("tr");
        if (row) row.classList.toggle("lf-row-overdue", ms < 0);
      }
    }

    tick();
    window.setInterval(tick, 15000);
    // Background tabs throttle timers: catch up as soon as the rep looks again.
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) tick();
    });
    document.addEventListener("lf:queue-updated", tick);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
