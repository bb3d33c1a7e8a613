// Saves the score chosen in the email as soon as the page has loaded (a partial answer).
// A bare GET records nothing; this POST does, and so does the submit button without script.
(function () {
  "use strict";
  var form = document.getElementById("answer-form");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var names = (form.getAttribute("data-autosave") || "").split(" ").filter(Boolean);
  var body = new URLSearchParams();
  names.forEach(function (name) {
    var inputs = form.querySelectorAll('input[name="' + name + '"]:checked');
    Array.prototype.forEach.call(inputs, function (input) {
      body.append(name, input.value);
    });
  });
  if (!body.toString()) {
    return;
  }
  body.append("_partial", "1");
  var status = document.getElementById("autosave-status");
  fetch(form.action, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Accept": "application/json",
      "Content-Type": "application/x-www-form-urlencoded"
    },
    body: body.toString()
  }).then(function (response) {
    if (response.ok && status) {
      status.textContent = status.getAttribute("data-saved");
      form.setAttribute("data-autosaved", "yes");
    }
  }).catch(function () {
    // The submit button still sends everything.
  });
})();
