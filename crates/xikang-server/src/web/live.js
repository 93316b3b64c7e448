// xikang: refreshes the element marked data-refresh every data-interval ms (15 s by default)
// without reloading the page, and makes print buttons work. The page works without this
// script; it only keeps it fresh.
//
// A refresh touches only what changed (WCAG 2.2.2; a screen reader is not re-read the whole
// dashboard): an answer equal to the last one is dropped, and a different one is merged
// node by node, so a changed figure changes one text node. The pause button (#live-toggle)
// stops and restarts the refreshes; #live-status (role=status) says briefly when figures
// changed, and #computed-at shows the time of the figures (the X-Computed-At header).
(function () {
  var live = document.querySelector('[data-refresh]');
  if (live) {
    var toggle = document.getElementById('live-toggle');
    var status = document.getElementById('live-status');
    var stamp = document.getElementById('computed-at');
    var every = Number(live.getAttribute('data-interval')) || 15000;
    var last = null;
    var timer = null;
    var refreshes = 0;

    // Makes `from` equal to `to`, changing only nodes and attributes that differ. A details
    // element keeps its `open` state (the reader opened it, the server does not know).
    var morph = function (from, to) {
      if (from.nodeType !== to.nodeType || from.nodeName !== to.nodeName) {
        from.replaceWith(to.cloneNode(true));
        return 1;
      }
      if (from.nodeType === 3 || from.nodeType === 8) {
        if (from.nodeValue === to.nodeValue) return 0;
        from.nodeValue = to.nodeValue;
        return 1;
      }
      if (from.nodeType !== 1) return 0;
      var changed = 0;
      var keep = from.nodeName === 'DETAILS' ? 'open' : null;
      Array.prototype.slice.call(from.attributes).forEach(function (a) {
        if (a.name !== keep && !to.hasAttribute(a.name)) { from.removeAttribute(a.name); changed += 1; }
      });
      Array.prototype.slice.call(to.attributes).forEach(function (a) {
        if (from.getAttribute(a.name) !== a.value) { from.setAttribute(a.name, a.value); changed += 1; }
      });
      var fc = from.childNodes;
      var tc = to.childNodes;
      if (fc.length !== tc.length) {
        from.replaceChildren.apply(from, Array.prototype.map.call(tc, function (n) { return n.cloneNode(true); }));
        return changed + 1;
      }
      for (var i = 0; i < tc.length; i += 1) changed += morph(fc[i], tc[i]);
      return changed;
    };

    var refresh = function () {
      fetch(live.getAttribute('data-refresh'), { credentials: 'same-origin', cache: 'no-store' })
        // A redirect means the session ended: reload, which leads to the login page.
        .then(function (r) {
          if (r.redirected) { location.reload(); return null; }
          if (!r.ok) return null;
          var at = r.headers.get('x-computed-at');
          if (stamp && at && stamp.textContent !== at) stamp.textContent = at;
          return r.text();
        })
        .then(function (html) {
          // An answer arriving after a pause is dropped, uncounted.
          if (timer === null) return;
          if (html !== null && html !== last) {
            var t = document.createElement('template');
            t.innerHTML = html;
            var box = live.cloneNode(false);
            box.appendChild(t.content);
            var changed = morph(live, box);
            if (changed > 0 && status) status.textContent = status.getAttribute('data-updated') + ' ' + (stamp ? stamp.textContent : '');
          }
          if (html !== null) last = html;
          refreshes += 1;
          if (toggle) toggle.setAttribute('data-refreshes', String(refreshes));
        })
        .catch(function () {});
    };
    var start = function () { timer = setInterval(refresh, every); };
    start();
    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener('click', function () {
        var paused = timer !== null;
        if (paused) { clearInterval(timer); timer = null; } else { start(); }
        toggle.setAttribute('data-paused', String(paused));
        toggle.textContent = toggle.getAttribute(paused ? 'data-resume' : 'data-pause');
      });
    }
  }
  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });
})();
