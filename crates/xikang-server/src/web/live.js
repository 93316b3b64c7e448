// xikang: refreshes the element marked data-refresh every 15 s without reloading the page,
// and makes print buttons work. The page works without this script; it only keeps it fresh.
(function () {
  var live = document.querySelector('[data-refresh]');
  if (live) {
    setInterval(function () {
      fetch(live.getAttribute('data-refresh'), { credentials: 'same-origin' })
        // A redirect means the session ended: reload, which leads to the login page.
        .then(function (r) { if (r.redirected) { location.reload(); return null; } return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { live.innerHTML = html; } })
        .catch(function () {});
    }, 15000);
  }
  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });
})();
