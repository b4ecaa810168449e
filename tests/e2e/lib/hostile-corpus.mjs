// Hostile strings for display names, subjects, bodies and addresses.
//
// Used in two places:
//   - in Node, by tests that feed them to the Threadline server and extension;
//   - in the browser, by the Gmail simulator (tests/fixtures/gmail/gmail-sim.js), whose
//     "hostile" thread renders every payload as a sender name, recipient, subject and body.
//     The fixture server serves this file at /_e2e/hostile-corpus.mjs for that purpose, so
//     this module must stay dependency-free and runnable in both environments.
//
// Gmail escapes all of these (they reach the DOM as text). Anything that turns one of them
// back into markup or code — an innerHTML, a template engine, a javascript: link — runs the
// marker below, which a test detects with `PWN_CHECK`.
//
// The marker is written without quotes or spaces so it survives every quoting style
// (double, single, backtick, unquoted attribute values).

export const PWN = 'window.__pwned=1;document.title=String.fromCharCode(80,87,78,69,68)';

/** Evaluate in the page (page.evaluate(PWN_CHECK)): true when any payload executed. */
export const PWN_CHECK = () => window.__pwned !== undefined || document.title === 'PWNED';

const payloads = [];
/** Register one payload. `executes` marks markup/code that would run PWN if interpreted. */
function add(category, value, executes = false) {
  payloads.push({ id: `${category}-${payloads.filter((p) => p.category === category).length + 1}`, category, value, executes });
}

// --- <script> in its many spellings -------------------------------------------------------
for (const v of [
  `<script>${PWN}</script>`,
  `<SCRIPT>${PWN}</SCRIPT>`,
  `<ScRiPt>${PWN}</sCrIpT>`,
  `<script type="text/javascript">${PWN}</script>`,
  `<script type=module>${PWN}</script>`,
  `<script\n>${PWN}</script\n>`,
  `<script/x>${PWN}</script>`,
  `<<script>${PWN};//<</script>`,
  `<script src="data:text/javascript,${PWN}"></script>`,
  `<script>/*</script><script>*/${PWN}</script>`,
  `</script><script>${PWN}</script>`,
  `<scr<script>ipt>${PWN}</scr</script>ipt>`,
]) add('script', v, true);

// --- every event-handler attribute, each on an element that fires it without a click -----
// (the handler name matters: allow-list sanitizers often forget the rarer ones)
const autoFiring = {
  onerror: (h) => `<img src=x ${h}=${PWN}>`,
  onload: (h) => `<svg ${h}=${PWN}>`,
  onfocus: (h) => `<input autofocus ${h}=${PWN}>`,
  onfocusin: (h) => `<input autofocus ${h}=${PWN}>`,
  onblur: (h) => `<input autofocus ${h}=${PWN}><input autofocus>`,
  onfocusout: (h) => `<input autofocus ${h}=${PWN}><input autofocus>`,
  ontoggle: (h) => `<details open ${h}=${PWN}>`,
  onbeforetoggle: (h) => `<div popover id=p ${h}=${PWN}></div>`,
  onanimationstart: (h) => `<style>@keyframes x{}</style><b style=animation-name:x ${h}=${PWN}>`,
  onanimationend: (h) => `<b style=animation:x&#32;1ms ${h}=${PWN}>`,
  onanimationiteration: (h) => `<b style=animation:x&#32;1ms&#32;2 ${h}=${PWN}>`,
  ontransitionend: (h) => `<b style=transition:color&#32;1ms id=t ${h}=${PWN}>`,
  ontransitionrun: (h) => `<b style=transition:all&#32;1ms ${h}=${PWN}>`,
  onbegin: (h) => `<svg><animate ${h}=${PWN} attributeName=x dur=1s>`,
  onend: (h) => `<svg><animate ${h}=${PWN} attributeName=x dur=1ms>`,
  onrepeat: (h) => `<svg><animate ${h}=${PWN} attributeName=x dur=1ms repeatCount=2>`,
  onpageshow: (h) => `<body ${h}=${PWN}>`,
  onhashchange: (h) => `<body ${h}=${PWN}>`,
  onresize: (h) => `<body ${h}=${PWN}>`,
  onscroll: (h) => `<div style=overflow:auto;height:1px ${h}=${PWN}><br><br></div>`,
  onscrollend: (h) => `<div style=overflow:auto;height:1px ${h}=${PWN}><br><br></div>`,
  onloadstart: (h) => `<video src=x ${h}=${PWN}>`,
  onloadeddata: (h) => `<audio src=x ${h}=${PWN}>`,
  oncanplay: (h) => `<video src=x ${h}=${PWN}>`,
  onplay: (h) => `<video autoplay src=x ${h}=${PWN}>`,
  onstart: (h) => `<marquee ${h}=${PWN}>x</marquee>`,
  onfinish: (h) => `<marquee loop=1 ${h}=${PWN}>x</marquee>`,
  onmessage: (h) => `<body ${h}=${PWN}>`,
  onpopstate: (h) => `<body ${h}=${PWN}>`,
  onselectstart: (h) => `<input autofocus value=x ${h}=${PWN}>`,
  onselectionchange: (h) => `<input autofocus value=x ${h}=${PWN}>`,
  oninvalid: (h) => `<form><input required ${h}=${PWN}></form>`,
  onsearch: (h) => `<input type=search ${h}=${PWN}>`,
  onwebkitanimationstart: (h) => `<b style=animation-name:x ${h}=${PWN}>`,
  oncontentvisibilityautostatechange: (h) => `<div style=content-visibility:auto ${h}=${PWN}>`,
};
for (const [handler, make] of Object.entries(autoFiring)) add('handler-auto', make(handler), true);

// Handlers that need user interaction: harmless until someone hovers or clicks the
// injected element, which is exactly what a user of a CRM bar does.
for (const handler of [
  'onclick', 'ondblclick', 'onmousedown', 'onmouseup', 'onmouseover', 'onmouseenter',
  'onmouseleave', 'onmousemove', 'onmouseout', 'onpointerdown', 'onpointerup', 'onpointerover',
  'onpointerenter', 'onpointermove', 'onauxclick', 'oncontextmenu', 'onwheel', 'onkeydown',
  'onkeyup', 'onkeypress', 'oninput', 'onchange', 'onbeforeinput', 'oncopy', 'oncut', 'onpaste',
  'ondrag', 'ondragstart', 'ondrop', 'ontouchstart', 'onsubmit', 'onreset', 'onbeforeunload',
  'onunload', 'onfullscreenchange', 'onpointerrawupdate', 'ongotpointercapture',
]) add('handler-interactive', `<div ${handler}=${PWN} style=position:fixed;inset:0>x</div>`, true);

// --- attribute-writing styles: quoting, separators, case, encodings ----------------------
for (const v of [
  `<img src=x onerror="${PWN}">`,
  `<img src=x onerror='${PWN}'>`,
  `<img src=x onerror=\`${PWN}\`>`,
  `<img src=x ONERROR=${PWN}>`,
  `<img/src="x"/onerror=${PWN}>`,
  `<img src=x\nonerror=${PWN}>`,
  `<img src=x\tonerror=${PWN}>`,
  `<img src=x onerror\n=\n${PWN}>`,
  `<img src=x onerror=&#119;indow.__pwned=1>`,
  `<img src=x onerror=&#x77;&#x69;ndow.__pwned=1>`,
  `<img src=x onerror=window&#46;__pwned=1>`,
  `<img src="x" onerror="${PWN}"/>`,
  `<img src=x:x onerror=eval(atob('d2luZG93Ll9fcHduZWQ9MQ=='))>`,
  `<img src=x onerror=Function(${JSON.stringify(PWN).replace(/"/g, '&quot;')})()>`,
  `<svg><script>${PWN}</script></svg>`,
  `<math><mtext><table><mglyph><style><img src=x onerror=${PWN}>`,
  `<noscript><p title="</noscript><img src=x onerror=${PWN}>">`,
  `<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>`,
  `<object data="data:text/html,<script>parent.__pwned=1</script>"></object>`,
  `<embed src="data:text/html,<script>parent.__pwned=1</script>">`,
  `<form><button formaction=javascript:${PWN}>x</button></form>`,
  `<isindex type=image src=x onerror=${PWN}>`,
  `<img src=x onerror=${PWN}//`,
  `<x contenteditable onblur=${PWN}>x`,
  `<input type=image src=x onerror=${PWN}>`,
  `<body/onload=${PWN}>`,
  `<meta http-equiv=refresh content="0;url=javascript:${PWN}">`,
  `<base href="javascript:${PWN}//">`,
  `<link rel=import href="data:text/html,<script>${PWN}</script>">`,
  `<template><img src=x onerror=${PWN}></template><div id=t></div>`,
]) add('attr-style', v, true);

// --- breaking out of an attribute or an element ------------------------------------------
for (const v of [
  `"><svg onload=${PWN}>`,
  `'><svg onload=${PWN}>`,
  `\`><svg onload=${PWN}>`,
  `"><img src=x onerror=${PWN}>`,
  `" onmouseover="${PWN}" x="`,
  `' onmouseover='${PWN}' x='`,
  `" autofocus onfocus="${PWN}" x="`,
  `"/><script>${PWN}</script>`,
  `</title><script>${PWN}</script>`,
  `</textarea><script>${PWN}</script>`,
  `</style><script>${PWN}</script>`,
  `</noscript><script>${PWN}</script>`,
  `--><script>${PWN}</script><!--`,
  `]]><script>${PWN}</script>`,
  `<!--<img src="--><img src=x onerror=${PWN}//">`,
  `</span></div></td></tr></table><img src=x onerror=${PWN}>`,
  `<div><span email="a@b.example" name="x"><img src=x onerror=${PWN}></span></div>`,
  `<plaintext><script>${PWN}</script>`,
  `<xmp><img src=x onerror=${PWN}></xmp>`,
  `<select><option><img src=x onerror=${PWN}></option></select>`,
]) add('breakout', v, true);

// --- javascript:, data:, vbscript: URLs (dangerous if anything linkifies) -----------------
for (const v of [
  `javascript:${PWN}`,
  `JaVaScRiPt:${PWN}`,
  ` javascript:${PWN}`,
  `java\tscript:${PWN}`,
  `java\nscript:${PWN}`,
  `java\u0000script:${PWN}`,
  `&#106;avascript:${PWN}`,
  `javascript&colon;${PWN}`,
  `javascript:/*--></title></style></textarea></script><svg/onload='+/"/+/onmouseover=1/+/[*/[]/+${PWN}//'>`,
  `<a href="javascript:${PWN}">click me</a>`,
  `<a href=javascript&#58;${PWN}>click</a>`,
  `[click](javascript:${PWN})`,
  `data:text/html,<script>${PWN}</script>`,
  `data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+`,
  `vbscript:msgbox(1)`,
  `https://example.com/"><script>${PWN}</script>`,
]) add('url', v, true);

// --- template injection (only dangerous if someone runs a template engine on it) ---------
for (const v of [
  `{{constructor.constructor('${PWN}')()}}`,
  `{{$on.constructor('${PWN}')()}}`,
  `{{_c.constructor('${PWN}')()}}`,
  `\${${PWN}}`,
  `\`\${${PWN}}\``,
  `#{${PWN}}`,
  `<%= ${PWN} %>`,
  `{% ${PWN} %}`,
  `[[${PWN}]]`,
  `{{7*7}}`,
  `\${7*7}`,
  `{{{html}}}`,
  `{{> partial}}`,
  `<div v-html="'<img src=x onerror=${PWN}>'"></div>`,
  `<div ng-app>{{constructor.constructor('${PWN}')()}}</div>`,
  `__proto__`,
  `constructor`,
  `toString`,
  `{"__proto__":{"polluted":1}}`,
]) add('template', v, v.includes(PWN));

// --- direction overrides and invisible characters -----------------------------------------
for (const v of [
  'Ann \u202ELee\u202C',
  'invoice\u202Efdp.exe',
  '\u202Emoc.elpmaxe@nna',
  'Bob \u202D\u202E\u202D Martin',
  '\u2066isolated\u2069 name',
  '\u2067rtl isolate\u2069',
  '\u2068first strong\u2069',
  '\u2066\u2066\u2066\u2066unterminated isolates',
  '\u202E\u202E\u202E\u202Eunterminated overrides',
  '\u200Fمرحبا\u200E hello',
  'שלום <b>bold</b> \u202Atext\u202C',
  'Ann\u200BLee',
  'A\u200C\u200D\u2060\uFEFF\u180E\u034F\u115F\u3164\u200B',
  '\u200B\u200B\u200B\u200B\u200B\u200B\u200B\u200B',
  '\uFEFFBOM at start',
  '\u00ADsoft\u00ADhyphen',
  '\u061Carabic letter mark',
  'Ann Lee\u2028line separator\u2029para separator',
]) add('bidi-invisible', v);

// --- NUL and control characters ----------------------------------------------------------
for (const v of [
  'nul\u0000inside',
  '\u0000',
  'ctrl:\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008',
  'tabs\tand\nnewlines\r\nand\rcr',
  'vt\u000Bff\u000C',
  'esc\u001B[31mred\u001B[0m',
  'del\u007F c1\u0080\u0085\u009F',
  '\uFFFD replacement \uFFFE\uFFFF noncharacters',
  '\uD800 lone high surrogate',
  'lone low \uDC00 surrogate',
]) add('control', v);

// --- emoji and combining-character floods ------------------------------------------------
for (const v of [
  'Z' + '\u0336\u0334\u0335\u0337\u0338\u0321\u0322\u0327\u0328'.repeat(60),
  'e' + '\u0301'.repeat(500),
  '\uD83D\uDE00'.repeat(400),
  '\uD83D\uDC68\u200D\uD83D\uDC69\u200D\uD83D\uDC67\u200D\uD83D\uDC66'.repeat(100),
  '\uD83C\uDDFA\uD83C\uDDF8\uD83C\uDDE9\uD83C\uDDEA'.repeat(100),
  '\uD83D\uDC4D\uD83C\uDFFF'.repeat(200),
  '\u0BF5'.repeat(300),
  '\uFDFD'.repeat(200),
  '\u0E14\u0E4D\u0E4D\u0E4D\u0E4D\u0E4D'.repeat(80),
  'ℌ𝔢𝔩𝔩𝔬 𝕎𝕠𝕣𝕝𝕕 𝒮𝒸𝓇𝒾𝓅𝓉',
]) add('flood', v);

// --- 10 kB strings -------------------------------------------------------------------------
for (const v of [
  'A'.repeat(10240),
  '<'.repeat(10240),
  '"'.repeat(10240),
  `<img src=x onerror=${PWN}>`.repeat(Math.ceil(10240 / `<img src=x onerror=${PWN}>`.length)),
  'word '.repeat(2048),
  'x@'.repeat(5120),
  ('a'.repeat(64) + '.').repeat(160),
]) add('long', v, v.includes(PWN));

// --- strings that break CSS if spliced into a style sheet or style attribute ---------------
for (const v of [
  `</style><style>*{display:none!important}</style>`,
  `"; } body { display: none } /*`,
  `'; } * { visibility: hidden } /*`,
  `red;background:url(javascript:${PWN})`,
  `expression(${PWN})`,
  `@import 'https://x.invalid/evil.css';`,
  `}*{color:red}{`,
  `\\";}body{display:none}/*`,
  `\\0000 \\A \\22 \\27`,
  `<style>@import 'x';</style>`,
  `</div><style>.adn{display:none}</style>`,
  `url("data:image/svg+xml,<svg onload=${PWN}>")`,
]) add('css', v, v.includes(PWN));

// --- quotes, backslashes and escaping confusion --------------------------------------------
for (const v of [
  `"`,
  `'`,
  `\``,
  `\\`,
  `\\"`,
  `\\'`,
  `\\\\\\\\`,
  `O'Brien "The Hammer" \\ Smith`,
  `"Lee, Ann" <ann.lee@acme.example>`,
  `\\u003cscript\\u003e${PWN}\\u003c/script\\u003e`,
  `%3Cscript%3E${PWN}%3C%2Fscript%3E`,
  `&lt;script&gt;${PWN}&lt;/script&gt;`,
  `&amp;lt;b&amp;gt;`,
  `"}]},{"injected":true,"x":"`,
  `'); DROP TABLE contacts;--`,
  `Robert'); DROP TABLE students;--`,
  `%s%s%s%n%x%d`,
  `../../../../etc/passwd`,
  `\r\nBcc: victim@example.com`,
  `=cmd|' /C calc'!A0`,
  `+1+1`,
  `@SUM(1+1)`,
  `null`,
  `undefined`,
  `NaN`,
  ` `,
  ``,
]) add('quoting', v);

export const HOSTILE_PAYLOADS = Object.freeze(payloads.map((p) => Object.freeze(p)));
/** Just the strings, in a stable order. */
export const HOSTILE_STRINGS = Object.freeze(payloads.map((p) => p.value));

// --- hostile addresses: homoglyphs, invisible characters, quotes, markup ------------------
// Some are syntactically valid, some are not; all are strings Gmail will happily put in an
// `email` or `data-hovercard-id` attribute of a sender or recipient span.
export const HOSTILE_ADDRESSES = Object.freeze([
  '\u0430nn.lee@acme.example', // Cyrillic "а"
  'ann.lee@\u0430cme.example',
  'bob@gl\u043Ebex.example', // Cyrillic "о"
  'bob@globex.exampIe', // capital I for l
  '\uFF42\uFF4F\uFF42@globex.example', // full-width
  'ann.lee@acme.example\u200B',
  '\u200Bann.lee@acme.example',
  'ann.lee\u202E@acme.example',
  'owner@example.com\u0000',
  'OWNER@EXAMPLE.COM',
  'owner@example.com.',
  '"owner@example.com"@evil.example',
  '"><svg onload=' + PWN + '>@evil.example',
  '<img src=x onerror=' + PWN + '>@evil.example',
  "o'brien@globex.example",
  '"quoted local"@acme.example',
  'back\\slash@acme.example',
  'javascript:' + PWN + '//@evil.example',
  'a'.repeat(64) + '@' + 'b'.repeat(63) + '.example',
  'x@' + 'sub.'.repeat(60) + 'example',
  'user+tag+more@acme.example',
  'user@xn--80ak6aa92e.example', // punycode of a Cyrillic label
  'user@\u0440\u0430\u0443\u0440\u0430l.example',
  'ann.lee@acme.example,bob@globex.example',
  'ann.lee@acme.example\r\nBcc: victim@example.com',
  '@acme.example',
  'no-at-sign',
  '',
]);
