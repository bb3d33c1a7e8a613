// The answer page's script (served from the collector: the CSP allows no inline script).
//
// 1. Saves the score chosen in the email as soon as the page has loaded, as a
//    *provisional* answer: link scanners that run JavaScript load this page too, so a
//    load proves nothing and the score counts nowhere yet.
// 2. Confirms it on the first real pointer or key event on the page (`isTrusted`:
//    a script cannot fake one). The submit button confirms everything, with or
//    without this script. A bare GET records nothing.
(function () {
  "use strict";
  var form = document.getElementById("answer-form");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var status = document.getElementById("autosave-status");

  function say(attribute) {
    if (status && status.getAttribute(attribute)) {
      status.textContent = status.getAttribute(attribute);
    }
  }

  function checkedValues(names) {
    var body = new URLSearchParams();
    names.forEach(function (name) {
      // A hidden input is the decline page's one answer ("No, thanks" from the email).
      var inputs = form.querySelectorAll(
        'input[name="' + name + '"]:checked, input[type="hidden"][name="' + name + '"]'
      );
      Array.prototype.forEach.call(inputs, function (input) {
        body.append(name, input.value);
      });
    });
    return body;
  }

  function post(body) {
    body.append("_partial", "1");
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded"
      },
      body: body.toString()
    }).then(function (response) {
      return response.ok ? response.json() : null;
    });
  }

  var names = (form.getAttribute("data-autosave") || "").split(" ").filter(Boolean);
  var saving = Promise.resolve(null);
  var initial = checkedValues(names);
  if (initial.toString()) {
    saving = post(initial).then(function (reply) {
      if (reply && form.getAttribute("data-confirmed") !== "yes") {
        form.setAttribute("data-autosaved", "yes");
        say("data-provisional");
      }
      return reply;
    }).catch(function () {
      return null; // The submit button still sends everything.
    });
  }

  var confirming = false;
  function confirmOnce(event) {
    if (!event.isTrusted || confirming || form.getAttribute("data-confirmed") === "yes") {
      return;
    }
    confirming = true;
    saving.then(function () {
      var scales = Array.prototype.map.call(
        form.querySelectorAll('input[type="radio"]:checked'),
        function (input) { return input.name; }
      );
      var body = checkedValues(scales);
      if (!body.toString()) {
        confirming = false; // nothing chosen yet: the next real event tries again
        return;
      }
      body.append("_confirm", "1");
      return post(body).then(function (reply) {
        if (reply && reply.confirmed) {
          form.setAttribute("data-confirmed", "yes");
          say("data-saved");
        } else {
          confirming = false;
        }
      });
    }).catch(function () {
      confirming = false;
    });
  }
  var human = false;
  function onHuman(event) {
    if (!event.isTrusted) {
      return;
    }
    human = true;
    // After the click or key has had its effect (a new score chosen), not before.
    window.setTimeout(function () { confirmOnce(event); }, 250);
  }
  document.addEventListener("pointerdown", onHuman, true);
  document.addEventListener("keydown", onHuman, true);
  // A person changing a score after confirming: keep the saved one in step.
  form.addEventListener("change", function (event) {
    var input = event.target;
    if (!event.isTrusted || !human || input.type !== "radio" ||
        form.getAttribute("data-confirmed") !== "yes") {
      return;
    }
    var body = new URLSearchParams();
    body.append(input.name, input.value);
    body.append("_confirm", "1");
    post(body).catch(function () { return null; });
  });
})();
