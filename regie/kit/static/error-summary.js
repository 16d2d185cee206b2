/* An error summary (GOV.UK / DSFR style): focus it when the page opens (its autofocus
   attribute does so too), and make each of its links focus its field, with the field's
   label in view. Without JavaScript the links still lead to the fields. */
(function () {
  var summary = document.getElementById("error-summary");
  if (!summary) { return; }
  if (document.activeElement !== summary) { summary.focus(); }
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) { return; }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) { return; }
    event.preventDefault();
    var label = document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView();
    field.focus({preventScroll: true});
  });
})();
