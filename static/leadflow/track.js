// Leadflow website tracking: the first-party snippet a marketer puts on their
// own site. It speaks Segment's HTTP tracking API to the Leadflow it was
// served from (the script's own origin), so one collector takes this snippet
// and Segment's SDKs alike.
//
// Install (the source's settings page shows the tag with its key):
//   <script>window.leadflow=window.leadflow||[];...</script>   (queue stub)
//   <script async src="https://<leadflow>/static/leadflow/track.js"
//           data-key="<write key>" [data-consent="required"]></script>
//
// API: leadflow.page(), leadflow.identify(email, traits),
// leadflow.track(event, properties), leadflow.consent(true|false).
//
// Privacy: under Do Not Track or Global Privacy Control it does nothing at
// all (no cookie, no request). With data-consent="required" it sets no cookie
// and sends nothing until consent(true); the cookie then stands for the
// consent on later pages, and consent(false) deletes it.
(function () {
  "use strict";

  var VERSION = "1.0.0";
  var COOKIE = "lf_aid";
  var YEAR_SECONDS = 365 * 24 * 60 * 60;
  var UTM = {
    utm_source: "source",
    utm_medium: "medium",
    utm_campaign: "name",
    utm_term: "term",
    utm_content: "content"
  };
  // Where Leadflow's public web forms post: they get the anonymous id.
  var FORM_PATH = "/api/v1/forms/";
  // The query parameter of a signed e-mail link (?lf_t=<token>).
  var TOKEN_PARAM = "lf_t";

  var win = window;
  var doc = document;
  var queued = win.leadflow;
  if (queued && queued.loaded) {
    return;
  }

  var script =
    doc.currentScript ||
    doc.querySelector('script[data-key][src*="/leadflow/track.js"]');
  var writeKey = script && script.getAttribute("data-key");
  var consentRequired =
    !!script && script.getAttribute("data-consent") === "required";
  var collector = script ? new URL(script.src, win.location.href).origin : "";
  var nav = win.navigator || {};
  var optedOut =
    nav.doNotTrack === "1" ||
    win.doNotTrack === "1" ||
    nav.msDoNotTrack === "1" ||
    nav.globalPrivacyControl === true;
  var disabled = optedOut || !writeKey || !collector;

  var consented = !consentRequired || readCookie() !== "";
  var pagePending = false;
  var tokenPending = "";

  function readCookie() {
    var parts = doc.cookie ? doc.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var pair = parts[i].replace(/^\s+/, "");
      if (pair.indexOf(COOKIE + "=") === 0) {
        return decodeURIComponent(pair.slice(COOKIE.length + 1));
      }
    }
    return "";
  }

  function writeCookie(value, maxAge) {
    var secure = win.location.protocol === "https:" ? "; Secure" : "";
    doc.cookie =
      COOKIE + "=" + encodeURIComponent(value) + "; Max-Age=" + maxAge +
      "; Path=/; SameSite=Lax" + secure;
  }

  function uuid() {
    var cryptoApi = win.crypto;
    if (cryptoApi && cryptoApi.randomUUID) {
      return cryptoApi.randomUUID();
    }
    var bytes = new Uint8Array(16);
    cryptoApi.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      })
      .join("");
    return (
      hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20)
    );
  }

  // The visitor's anonymous id: read from the cookie, or made and stored
  // (a rolling year from the last visit).
  function anonymousId() {
    var id = readCookie() || uuid();
    writeCookie(id, YEAR_SECONDS);
    return id;
  }

  function active() {
    return !disabled && consented;
  }

  // The page's URL without the e-mail link token (never stored).
  function cleanUrl() {
    var url = new URL(win.location.href);
    url.searchParams.delete(TOKEN_PARAM);
    return url;
  }

  function pageContext() {
    var url = cleanUrl();
    return {
      url: url.href,
      path: url.pathname,
      title: doc.title,
      referrer: doc.referrer,
      search: url.search
    };
  }

  function campaign() {
    var params = new URL(win.location.href).searchParams;
    var found = {};
    var any = false;
    Object.keys(UTM).forEach(function (param) {
      var value = params.get(param);
      if (value) {
        found[UTM[param]] = value;
        any = true;
      }
    });
    return any ? found : null;
  }

  function send(path, message) {
    var now = new Date().toISOString();
    var context = {
      library: { name: "leadflow.js", version: VERSION },
      page: pageContext(),
      userAgent: nav.userAgent,
      locale: nav.language
    };
    var utm = campaign();
    if (utm) {
      context.campaign = utm;
    }
    Object.keys(message.context || {}).forEach(function (key) {
      context[key] = message.context[key];
    });
    message.context = context;
    message.anonymousId = anonymousId();
    message.messageId = "lf-" + uuid();
    message.timestamp = now;
    message.sentAt = now;
    message.writeKey = writeKey;
    var body = JSON.stringify(message);
    var url = collector + "/segment/v1/" + path;
    // text/plain keeps it a simple request (no preflight), like sendBeacon.
    if (win.fetch) {
      win
        .fetch(url, {
          method: "POST",
          body: body,
          keepalive: true,
          credentials: "omit",
          headers: { "Content-Type": "text/plain" }
        })
        .catch(function () {});
    } else if (nav.sendBeacon) {
      nav.sendBeacon(url, new Blob([body], { type: "text/plain" }));
    }
  }

  function isObject(value) {
    return !!value && typeof value === "object" && !Array.isArray(value);
  }

  var api = {
    loaded: true,
    version: VERSION,

    page: function (properties) {
      if (disabled) {
        return;
      }
      if (!consented) {
        // Sent once consent is given, for the page the visitor is on.
        pagePending = true;
        return;
      }
      var props = pageContext();
      if (isObject(properties)) {
        Object.keys(properties).forEach(function (key) {
          props[key] = properties[key];
        });
      }
      send("p", { type: "page", name: doc.title, properties: props });
    },

    track: function (event, properties) {
      if (!active() || typeof event !== "string" || !event) {
        return;
      }
      send("t", {
        type: "track",
        event: event,
        properties: isObject(properties) ? properties : {}
      });
    },

    identify: function (email, traits) {
      if (!active() || typeof email !== "string" || !email) {
        return;
      }
      var all = {};
      if (isObject(traits)) {
        Object.keys(traits).forEach(function (key) {
          all[key] = traits[key];
        });
      }
      all.email = email;
      send("i", { type: "identify", traits: all });
    },

    consent: function (given) {
      if (disabled) {
        return;
      }
      if (given === false) {
        // Until consent(true), on this page; a site whose banner knows the
        // visitor refused calls consent(false) on every page (the queue
        // stub keeps the call, and it is replayed before the page view).
        consented = false;
        pagePending = false;
        tokenPending = "";
        writeCookie("", 0);
        return;
      }
      if (given !== true || consented) {
        return;
      }
      consented = true;
      anonymousId();
      markForms();
      if (tokenPending) {
        identifyByToken(tokenPending);
      }
      if (pagePending) {
        pagePending = false;
        api.page();
      }
    }
  };

  // Leadflow's public forms carry the anonymous id, so a submission
  // identifies the visitor.
  function markForm(form) {
    var action = form.getAttribute("action") || "";
    var target;
    try {
      target = new URL(action, win.location.href);
    } catch (e) {
      return;
    }
    if (target.origin !== collector || target.pathname.indexOf(FORM_PATH) !== 0) {
      return;
    }
    var field = form.querySelector('input[name="anonymous_id"]');
    if (!field) {
      field = doc.createElement("input");
      field.type = "hidden";
      field.name = "anonymous_id";
      form.appendChild(field);
    }
    field.value = readCookie();
  }

  function markForms() {
    if (!active()) {
      return;
    }
    Array.prototype.forEach.call(doc.forms, markForm);
  }

  function identifyByToken(token) {
    tokenPending = "";
    send("i", { type: "identify", traits: {}, context: { leadflow_token: token } });
  }

  // A signed e-mail link identifies the visitor it brought; the token then
  // leaves the address bar so it is neither bookmarked nor shared.
  function identifyFromLink() {
    if (disabled) {
      return;
    }
    var token = new URL(win.location.href).searchParams.get(TOKEN_PARAM);
    if (!token) {
      return;
    }
    if (active()) {
      identifyByToken(token);
    } else {
      // Kept in memory only, for a consent given on this page.
      tokenPending = token;
    }
    if (win.history && win.history.replaceState) {
      win.history.replaceState(win.history.state, "", cleanUrl().href);
    }
  }

  win.leadflow = api;
  if (!disabled) {
    doc.addEventListener(
      "submit",
      function (event) {
        if (active() && event.target && event.target.tagName === "FORM") {
          markForm(event.target);
        }
      },
      true
    );
  }

  // Calls made before the script loaded, kept by the queue stub: consent
  // first (so this page's view may go), then the page view, then the rest.
  var calls = Array.isArray(queued) ? queued : [];
  function replay(call) {
    if (Array.isArray(call) && typeof api[call[0]] === "function") {
      api[call[0]].apply(api, call.slice(1));
    }
  }
  calls.filter(function (c) { return c && c[0] === "consent"; }).forEach(replay);
  if (active()) {
    anonymousId();
  }
  identifyFromLink();
  api.page();
  calls.filter(function (c) { return c && c[0] !== "consent"; }).forEach(replay);
  if (doc.readyState === "loading") {
    doc.addEventListener("DOMContentLoaded", markForms);
  } else {
    markForms();
  }
})();
