/* The SPARQL query page: run the editor's query in the page and show the answer as a table.
 *
 * The form works without this script (it POSTs the query and the browser shows the answer in
 * the chosen format). With it, "Table" is the default choice: the query is POSTed with fetch(),
 * asking for SPARQL JSON results (or N-Triples for CONSTRUCT/DESCRIBE), and the answer becomes a
 * <table>. Our IRIs link to their pages on this server, other http(s) IRIs link out, and every
 * value is set with textContent. Errors show the endpoint's JSON error (with the line and column
 * of a syntax error), and the status line gives the row count, the time taken and whether the
 * server's row cap cut the answer. Download links fetch the same query in each format.
 */
(function () {
  "use strict";

  var form = document.getElementById("sparql-form");
  if (!form) {
    return;
  }
  var editor = document.getElementById("query");
  var formatChoice = document.getElementById("format");
  var runButton = document.getElementById("run");
  var statusLine = document.getElementById("query-status");
  var errorBox = document.getElementById("query-error");
  var tableBox = document.getElementById("result-table");
  var downloadsBox = document.getElementById("downloads");
  var resultsSection = document.getElementById("results");

  var TABLE = "table";
  var INDENT = "  ";
  var MAX_LINK_LENGTH = 8000;
  var ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9";
  var FORMAT_TO_FILE_SUFFIX = {
    json: "srj", xml: "srx", csv: "csv", tsv: "tsv", turtle: "ttl", ntriples: "nt",
    nquads: "nq", trig: "trig", jsonld: "jsonld", rdfxml: "rdf"
  };
  var FORMAT_TO_TITLE = {};
  Array.prototype.forEach.call(formatChoice.options, function (option) {
    FORMAT_TO_TITLE[option.value] = option.textContent.trim();
  });
  var SOLUTION_FORMATS = form.dataset.solutionFormats.split(" ");
  var GRAPH_FORMATS = form.dataset.graphFormats.split(" ");
  var LOCAL_NAMESPACES = longestFirst(JSON.parse(form.dataset.localNamespaces));
  var PREFIXES = longestFirst(JSON.parse(form.dataset.prefixes));
  var XSD_STRING = "http://www.w3.org/2001/XMLSchema#string";
  var RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString";

  function longestFirst(mapping) {
    return Object.keys(mapping)
      .sort(function (a, b) { return mapping[b].length - mapping[a].length || b.length - a.length; })
      .map(function (key) { return [key, mapping[key]]; });
  }

  /* --- the editor ---------------------------------------------------------------------- */

  var tableOption = document.createElement("option");
  tableOption.value = TABLE;
  tableOption.textContent = "Table (on this page)";
  formatChoice.insertBefore(tableOption, formatChoice.firstChild);
  formatChoice.value = TABLE;

  var leavingEditor = false;
  editor.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
      return;
    }
    if (event.key === "Escape") {
      leavingEditor = true;
      return;
    }
    if (event.key === "Tab" && !event.shiftKey && !event.altKey && !event.ctrlKey &&
        !event.metaKey && !leavingEditor) {
      event.preventDefault();
      insertAtCursor(INDENT);
    }
    leavingEditor = false;
  });
  editor.addEventListener("blur", function () {
    leavingEditor = false;
  });

  function insertAtCursor(text) {
    var start = editor.selectionStart;
    var end = editor.selectionEnd;
    editor.setRangeText(text, start, end, "end");
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.querySelectorAll("a[data-example]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var source = document.getElementById("example-" + link.dataset.example);
      if (!source) {
        return;
      }
      event.preventDefault();
      editor.value = source.textContent;
      document.querySelectorAll("a[data-example]").forEach(function (other) {
        other.removeAttribute("aria-current");
      });
      link.setAttribute("aria-current", "true");
      history.replaceState(null, "", "?example=" + encodeURIComponent(link.dataset.example));
      editor.focus();
      editor.setSelectionRange(0, 0);
      editor.scrollIntoView({ block: "nearest" });
    });
  });

  form.addEventListener("submit", function (event) {
    if (formatChoice.value === TABLE) {
      event.preventDefault();
      run();
    }
  });

  /* --- running a query ----------------------------------------------------------------- */

  function run() {
    var query = editor.value;
    clear();
    if (!query.trim()) {
      showProblem("The query is empty: write one, or open an example below.");
      return;
    }
    runButton.disabled = true;
    resultsSection.setAttribute("aria-busy", "true");
    statusLine.textContent = "Running…";
    var started = performance.now();
    fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: ACCEPT },
      body: new URLSearchParams({ query: query }).toString()
    })
      .then(function (response) {
        return response.text().then(function (body) {
          show(response, body, query, performance.now() - started);
        });
      })
      .catch(function () {
        statusLine.textContent = "";
        showProblem("The server could not be reached. Check your connection and try again.");
      })
      .finally(function () {
        runButton.disabled = false;
        resultsSection.removeAttribute("aria-busy");
      });
  }

  function clear() {
    errorBox.textContent = "";
    tableBox.textContent = "";
    downloadsBox.textContent = "";
  }

  function show(response, body, query, milliseconds) {
    var time = formatTime(milliseconds);
    var mediaType = (response.headers.get("Content-Type") || "").split(";")[0].trim();
    if (!response.ok) {
      statusLine.textContent = "The query failed (HTTP " + response.status + ") after " + time + ".";
      showError(response.status, mediaType, body);
      return;
    }
    var count;
    var formats;
    if (mediaType === "application/sparql-results+json") {
      var answer = JSON.parse(body);
      formats = SOLUTION_FORMATS;
      if (typeof answer.boolean === "boolean") {
        count = null;
        tableBox.appendChild(booleanAnswer(answer.boolean));
      } else {
        count = answer.results.bindings.length;
        tableBox.appendChild(solutionsTable(answer.head.vars, answer.results.bindings));
      }
    } else if (mediaType === "application/n-triples") {
      var triples = parseNTriples(body);
      formats = GRAPH_FORMATS;
      count = triples.length;
      tableBox.appendChild(triplesTable(triples));
    } else {
      showProblem("The endpoint answered " + mediaType + ", which this page cannot show.");
      return;
    }
    statusLine.textContent = summary(count, formats === GRAPH_FORMATS, time);
    if (response.headers.get("Communique-Result-Truncated") === "true") {
      var limit = response.headers.get("Communique-Result-Limit");
      showNotice("The answer was cut at " + limit + (formats === GRAPH_FORMATS ? " triples" : " rows") +
        ", the server's limit. Add LIMIT and OFFSET to page through it.");
    }
    showDownloads(query, formats);
  }

  function summary(count, graph, time) {
    if (count === null) {
      return "Answered in " + time + ".";
    }
    var noun = graph ? (count === 1 ? "triple" : "triples") : (count === 1 ? "row" : "rows");
    return count.toLocaleString() + " " + noun + " in " + time + ".";
  }

  function formatTime(milliseconds) {
    return milliseconds < 1000
      ? Math.round(milliseconds) + " ms"
      : (milliseconds / 1000).toFixed(2) + " s";
  }

  /* --- errors -------------------------------------------------------------------------- */

  function showError(status, mediaType, body) {
    var detail = null;
    if (mediaType === "application/json") {
      try {
        detail = JSON.parse(body);
      } catch (ignored) {
        detail = null;
      }
    }
    if (!detail || typeof detail.error !== "string") {
      showProblem("HTTP " + status + ": " + (body.slice(0, 500) || "no explanation given"));
      return;
    }
    var message = detail.error;
    if (typeof detail.line === "number") {
      var column = typeof detail.column === "number" ? detail.column : 1;
      if (message.indexOf(detail.line + ":" + column) === -1) {
        message = "Line " + detail.line + ", column " + column + ": " + message;
      }
      selectPosition(detail.line, column);
    }
    showProblem(message, detail.request_id);
  }

  function selectPosition(line, column) {
    var lines = editor.value.split("\n");
    var offset = 0;
    for (var i = 0; i < Math.min(line - 1, lines.length); i += 1) {
      offset += lines[i].length + 1;
    }
    offset = Math.min(offset + Math.max(column - 1, 0), editor.value.length);
    editor.setSelectionRange(offset, Math.min(offset + 1, editor.value.length));
  }

  function showProblem(message, requestId) {
    var box = document.createElement("div");
    box.className = "query-problem";
    var text = document.createElement("p");
    text.textContent = message;
    box.appendChild(text);
    if (requestId) {
      var reference = document.createElement("p");
      reference.className = "request-id";
      reference.textContent = "Request id: " + requestId;
      box.appendChild(reference);
    }
    errorBox.appendChild(box);
  }

  function showNotice(message) {
    var notice = document.createElement("p");
    notice.className = "query-notice";
    notice.textContent = message;
    errorBox.appendChild(notice);
  }

  /* --- tables -------------------------------------------------------------------------- */

  function solutionsTable(variables, bindings) {
    var table = document.createElement("table");
    table.className = "results-table";
    var head = table.createTHead().insertRow();
    headerCell(head, "#");
    variables.forEach(function (name) {
      headerCell(head, "?" + name);
    });
    var body = table.createTBody();
    bindings.forEach(function (binding, index) {
      var row = body.insertRow();
      numberCell(row, index + 1);
      variables.forEach(function (name) {
        row.insertCell().appendChild(termNode(binding[name]));
      });
    });
    return table;
  }

  function triplesTable(triples) {
    var table = document.createElement("table");
    table.className = "results-table";
    var head = table.createTHead().insertRow();
    ["#", "subject", "predicate", "object"].forEach(function (name) {
      headerCell(head, name);
    });
    var body = table.createTBody();
    triples.forEach(function (triple, index) {
      var row = body.insertRow();
      numberCell(row, index + 1);
      if (triple.raw !== undefined) {
        var cell = row.insertCell();
        cell.colSpan = 3;
        cell.textContent = triple.raw;
        return;
      }
      triple.terms.forEach(function (term) {
        row.insertCell().appendChild(termNode(term));
      });
    });
    return table;
  }

  function booleanAnswer(value) {
    var answer = document.createElement("p");
    answer.className = "boolean-answer";
    answer.textContent = "The answer is " + (value ? "yes (true)" : "no (false)") + ".";
    return answer;
  }

  function headerCell(row, text) {
    var cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = text;
    row.appendChild(cell);
  }

  function numberCell(row, number) {
    var cell = row.insertCell();
    cell.className = "row-number";
    cell.textContent = String(number);
  }

  /* --- RDF terms ------------------------------------------------------------------------ */

  function termNode(term) {
    if (!term) {
      return document.createTextNode("");
    }
    if (term.type === "uri") {
      return iriNode(term.value);
    }
    if (term.type === "bnode") {
      var blank = document.createElement("span");
      blank.className = "term-bnode";
      blank.textContent = "_:" + term.value;
      return blank;
    }
    if (term.type === "triple") {
      var quoted = document.createElement("span");
      quoted.appendChild(document.createTextNode("<< "));
      ["subject", "predicate", "object"].forEach(function (part) {
        quoted.appendChild(termNode(term.value[part]));
        quoted.appendChild(document.createTextNode(" "));
      });
      quoted.appendChild(document.createTextNode(">>"));
      return quoted;
    }
    return literalNode(term.value, term["xml:lang"], term.datatype);
  }

  function iriNode(iri) {
    var link = document.createElement("a");
    link.textContent = compact(iri);
    link.title = iri;
    var local = localPage(iri);
    if (local) {
      link.href = local;
    } else if (/^https?:\/\/[^\s]+$/i.test(iri)) {
      link.href = iri;
      link.className = "external";
      link.rel = "noopener noreferrer";
    } else {
      var text = document.createElement("span");
      text.className = "iri-text";
      text.textContent = iri;
      return text;
    }
    return link;
  }

  function literalNode(value, language, datatype) {
    var wrapper = document.createElement("span");
    var text = document.createElement("span");
    text.className = "literal";
    text.textContent = value;
    if (language) {
      text.lang = language;
    }
    wrapper.appendChild(text);
    if (language) {
      var tag = document.createElement("span");
      tag.className = "term-lang";
      tag.textContent = " @" + language;
      wrapper.appendChild(tag);
    } else if (datatype && datatype !== XSD_STRING && datatype !== RDF_LANG_STRING) {
      var kind = document.createElement("span");
      kind.className = "term-datatype";
      kind.textContent = " ^^" + compact(datatype);
      kind.title = datatype;
      wrapper.appendChild(kind);
    }
    return wrapper;
  }

  function localPage(iri) {
    for (var i = 0; i < LOCAL_NAMESPACES.length; i += 1) {
      var namespace = LOCAL_NAMESPACES[i][0];
      if (iri.indexOf(namespace) === 0) {
        var path = iri.slice(namespace.length);
        var segments = path.split("/");
        if (/[\u0000-\u0020\u007f\\]/.test(path) ||
            segments.some(function (s) { return s === "." || s === ".."; })) {
          return null;
        }
        return LOCAL_NAMESPACES[i][1] + escapePath(path);
      }
    }
    return null;
  }

  function escapePath(path) {
    /* As urls.py does: percent-encode everything but RFC 3986 pchar and "/". */
    return encodeURIComponent(path).replace(/%(2F|3A|40|24|26|2B|2C|3B|3D)/gi, function (match) {
      return decodeURIComponent(match);
    });
  }

  function compact(iri) {
    for (var i = 0; i < PREFIXES.length; i += 1) {
      var namespace = PREFIXES[i][1];
      var local = iri.slice(namespace.length);
      if (iri.indexOf(namespace) === 0 && local && /^[\w.%-]+$/.test(local) && !/\.$/.test(local)) {
        return PREFIXES[i][0] + ":" + local;
      }
    }
    return iri;
  }

  /* --- N-Triples (the answer to CONSTRUCT and DESCRIBE) --------------------------------- */

  var TERM = /\s*(?:<([^>]*)>|_:(\S+)|"((?:[^"\\]|\\.)*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^<([^>]*)>)?)/y;

  function parseNTriples(text) {
    var triples = [];
    text.split("\n").forEach(function (line) {
      var trimmed = line.trim();
      if (!trimmed || trimmed.charAt(0) === "#") {
        return;
      }
      TERM.lastIndex = 0;
      var terms = [];
      var match;
      while (terms.length < 3 && (match = TERM.exec(trimmed))) {
        terms.push(termOf(match));
      }
      var rest = trimmed.slice(TERM.lastIndex);
      triples.push(terms.length === 3 && /^\s*\.\s*$/.test(rest) ? { terms: terms } : { raw: trimmed });
    });
    return triples;
  }

  function termOf(match) {
    if (match[1] !== undefined) {
      return { type: "uri", value: unescapeText(match[1]) };
    }
    if (match[2] !== undefined) {
      return { type: "bnode", value: match[2] };
    }
    var term = { type: "literal", value: unescapeText(match[3]) };
    if (match[4]) {
      term["xml:lang"] = match[4];
    } else if (match[5]) {
      term.datatype = unescapeText(match[5]);
    }
    return term;
  }

  var ESCAPES = { t: "\t", b: "\b", n: "\n", r: "\r", f: "\f", '"': '"', "'": "'", "\\": "\\" };

  function unescapeText(text) {
    return text.replace(/\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))/g, function (all, short, long, single) {
      if (short || long) {
        return String.fromCodePoint(parseInt(short || long, 16));
      }
      return Object.prototype.hasOwnProperty.call(ESCAPES, single) ? ESCAPES[single] : all;
    });
  }

  /* --- downloads ----------------------------------------------------------------------- */

  function showDownloads(query, formats) {
    var heading = document.createElement("h3");
    heading.textContent = "Download these results";
    downloadsBox.appendChild(heading);
    var base = new URL(form.action, window.location.href);
    var probe = linkTo(base, query, formats[0]);
    if (probe.length > MAX_LINK_LENGTH) {
      var note = document.createElement("p");
      note.textContent = "This query is too long for a download link: choose a format under " +
        "\"Results as\" and press Run query instead.";
      downloadsBox.appendChild(note);
      return;
    }
    var list = document.createElement("ul");
    formats.forEach(function (name) {
      var link = document.createElement("a");
      link.href = linkTo(base, query, name);
      link.download = "results." + FORMAT_TO_FILE_SUFFIX[name];
      link.textContent = FORMAT_TO_TITLE[name] || name;
      var item = document.createElement("li");
      item.appendChild(link);
      list.appendChild(item);
    });
    downloadsBox.appendChild(list);
  }

  function linkTo(base, query, format) {
    var url = new URL(base.toString());
    url.search = new URLSearchParams({ query: query, format: format }).toString();
    return url.toString();
  }
})();
