/* The pending page: check in the background and reload once the outcome is known.
   Without JavaScript, a <noscript> meta refresh does the same every 2 s. */
(function () {
  var delay = 2000;
  function check() {
    fetch(location.href, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        if (html.indexOf('data-state="pending"') === -1) { location.reload(); return; }
        delay = Math.min(delay * 1.25, 15000);
        setTimeout(check, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 15000); setTimeout(check, delay); });
  }
  setTimeout(check, delay);
})();
