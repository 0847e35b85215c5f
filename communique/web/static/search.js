/* Autocomplete for the header search box: the ARIA 1.2 combobox pattern (list autocomplete).
 *
 * The input becomes a combobox controlling a listbox of suggestions from
 * /search?format=json. Down/Up move through the options (aria-activedescendant keeps focus in
 * the input), Enter opens the active option's page (or submits the search), Escape closes the
 * list (and clears the box when it is already closed), a click picks an option. The number of
 * suggestions is announced in a polite live region. Data is only ever set with textContent.
 */
(function () {
  "use strict";

  var DELAY_MS = 150;
  var LIMIT = 8;

  function enhance(form) {
    var input = form.querySelector("input[name=q]");
    if (!input || input.hasAttribute("data-autocomplete")) {
      return;
    }
    input.setAttribute("data-autocomplete", "on");
    var listId = (input.id || "q") + "-suggestions";
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "search-suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    list.hidden = true;
    var status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    form.classList.add("has-suggestions");
    input.insertAdjacentElement("afterend", list);
    form.appendChild(status);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);

    var options = [];
    var active = -1;
    var timer = null;
    var pending = null;
    var lastText = null;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function open() {
      if (options.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
    }

    function highlight(index) {
      options.forEach(function (option, i) {
        option.element.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].element.id);
        options[index].element.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var option = options[index];
      if (option && option.page) {
        window.location.assign(option.page);
      } else {
        form.submit();
      }
    }

    function render(results) {
      list.textContent = "";
      options = results.map(function (result, i) {
        var element = document.createElement("li");
        element.id = listId + "-" + i;
        element.setAttribute("role", "option");
        element.setAttribute("aria-selected", "false");
        var name = document.createElement("span");
        name.className = "suggestion-label";
        name.textContent = result.label;
        element.appendChild(name);
        if (result.matched && result.matched !== result.label) {
          var matched = document.createElement("span");
          matched.className = "suggestion-matched";
          matched.textContent = result.matched;
          element.appendChild(document.createTextNode(" "));
          element.appendChild(matched);
        }
        element.addEventListener("mousedown", function (event) {
          event.preventDefault();
        });
        element.addEventListener("click", function () {
          choose(i);
        });
        list.appendChild(element);
        return { element: element, page: result.page };
      });
      active = -1;
      status.textContent = options.length
        ? options.length + (options.length === 1 ? " suggestion" : " suggestions") +
          ", use the up and down arrow keys to choose"
        : "No suggestions";
      if (options.length && document.activeElement === input) {
        open();
      } else {
        close();
      }
    }

    function fetchSuggestions() {
      var text = input.value.trim();
      if (text === lastText) {
        open();
        return;
      }
      lastText = text;
      if (pending) {
        pending.abort();
        pending = null;
      }
      if (!text) {
        render([]);
        status.textContent = "";
        return;
      }
      var url = new URL(form.action, window.location.href);
      url.search = new URLSearchParams({ q: text, format: "json", limit: String(LIMIT) }).toString();
      var controller = new AbortController();
      pending = controller;
      fetch(url.toString(), { headers: { Accept: "application/json" }, signal: controller.signal })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (body) {
          if (pending === controller) {
            pending = null;
            render(body.results || []);
          }
        })
        .catch(function (error) {
          if (error.name !== "AbortError") {
            render([]);
          }
        });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, DELAY_MS);
    });

    input.addEventListener("keydown", function (event) {
      if (event.altKey && event.key === "ArrowDown") {
        open();
        event.preventDefault();
      } else if (event.key === "ArrowDown") {
        if (list.hidden) {
          open();
        }
        if (options.length) {
          highlight(active + 1 < options.length ? active + 1 : 0);
        }
        event.preventDefault();
      } else if (event.key === "ArrowUp") {
        if (options.length) {
          open();
          highlight(active > 0 ? active - 1 : options.length - 1);
        }
        event.preventDefault();
      } else if (event.key === "Enter") {
        if (!list.hidden && active >= 0) {
          event.preventDefault();
          choose(active);
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) {
          close();
        } else {
          input.value = "";
          lastText = null;
        }
        event.preventDefault();
      }
    });

    input.addEventListener("blur", function () {
      close();
    });
  }

  document.querySelectorAll("form[role=search]").forEach(enhance);
})();
