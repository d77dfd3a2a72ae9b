/* leadfollow: the rep's queue updates itself.
 * Polls the small JSON endpoint in #lf-queue-results[data-lf-live] every data-lf-poll ms;
 * when its fingerprint changes, fetches this page again and swaps the list in (rendered by
 * the same template as a reload). Shows the open-lead count in the tab title, and, once
 * the rep opted in with #lf-notify, a desktop notification per new lead. Without
 * JavaScript the page is what it was: reload to update. No CDN, no dependencies. */
(function () {
  "use strict";

  var OPT_IN = "leadfollow.notify";

  function start() {
    var box = document.getElementById("lf-queue-results");
    if (!box || !window.fetch) return;
    var endpoint = box.getAttribute("data-lf-live");
    var every = parseInt(box.getAttribute("data-lf-poll"), 10) || 5000;
    var fingerprint = box.getAttribute("data-lf-fingerprint");
    var baseTitle = box.getAttribute("data-lf-title") || document.title;
    var notifyTitle = box.getAttribute("data-lf-notify-title") || "New lead";
    // A lead is stamped "assigned" before its transaction commits, so a poll may see it
    // only after a poll whose `now` is already later. Each poll therefore asks again for
    // the last OVERLAP_MS before the previous one, and names only leads it has not seen
    // (those on the page as rendered, and those already named).
    var OVERLAP_MS = 120000;
    var since = box.getAttribute("data-lf-now");
    var seen = {};
    Array.prototype.forEach.call(box.querySelectorAll("[data-lead]"), function (row) {
      seen[row.getAttribute("data-lead")] = true;
    });
    var busy = false;

    function setTitle(count) {
      document.title = (count ? "(" + count + ") " : "") + baseTitle;
    }

    function wantsNotifications() {
      try {
        return (
          "Notification" in window &&
          Notification.permission === "granted" &&
          window.localStorage.getItem(OPT_IN) === "1"
        );
      } catch (e) {
        return false;
      }
    }

    function notify(leads) {
      var unseen = leads.filter(function (lead) {
        return !seen[String(lead.id)];
      });
      unseen.forEach(function (lead) {
        seen[String(lead.id)] = true;
      });
      if (!wantsNotifications()) return;
      unseen.forEach(function (lead) {
        var note = new Notification(notifyTitle, { body: lead.name, tag: "lf-lead-" + lead.id });
        note.onclick = function () {
          window.focus();
          window.location.href = lead.url;
        };
      });
    }

    function refresh() {
      // The page as it is now (filters, tab, page number kept): swap the results in.
      return fetch(window.location.href, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser()
            .parseFromString(html, "text/html")
            .getElementById("lf-queue-results");
          if (!fresh) return;
          box.innerHTML = fresh.innerHTML;
          fingerprint = fresh.getAttribute("data-lf-fingerprint");
          document.dispatchEvent(new Event("lf:queue-updated"));
        });
    }

    function poll() {
      if (busy || document.hidden) return;
      busy = true;
      var url = endpoint + (endpoint.indexOf("?") < 0 ? "?" : "&");
      url += since ? "since=" + encodeURIComponent(since) : "";
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (state) {
          setTitle(state.count);
          if (state["new"] && state["new"].length) notify(state["new"]);
          since = new Date(Date.parse(state.now) - OVERLAP_MS).toISOString();
          if (state.fingerprint !== fingerprint) return refresh();
        })
        .catch(function () {
          /* offline or logged out: try again at the next tick */
        })
        .then(function () {
          busy = false;
        });
    }

    var button = document.getElementById("lf-notify");
    if (button && "Notification" in window && Notification.permission !== "denied") {
      button.hidden = false;
      var on = function () {
        button.textContent = button.getAttribute("data-lf-on");
        button.disabled = true;
      };
      if (wantsNotifications()) on();
      button.addEventListener("click", function () {
        Notification.requestPermission().then(function (permission) {
          if (permission !== "granted") return;
          window.localStorage.setItem(OPT_IN, "1");
          on();
        });
      });
    }

    setTitle(parseInt(box.getAttribute("data-lf-count"), 10) || 0);
    poll();
    window.setInterval(poll, every);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) poll();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
