// The manifest and the locale files: what the browser and the other parts rely on.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { DEFAULTS, isBuiltInOrigin, originPattern, parseServerUrl } from "../../extension/background/settings.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXT = `${ROOT}extension/`;
const manifest = JSON.parse(readFileSync(`${ROOT}manifest.json`, "utf8"));
const LOCALES = ["en", "nl", "de"];
const locale = (lang) => JSON.parse(readFileSync(`${EXT}_locales/${lang}/messages.json`, "utf8"));

/** Keys the WASM content script reads with chrome.i18n.getMessage. */
const CONTENT_KEYS = [
  "barTitle", "statusKnown", "statusUnknown", "statusAmbiguous", "statusOwn", "statusNeverLog", "statusColleague", "statusInvalid",
  "actionTrack", "actionTracked", "actionTrackPending", "actionConvertToTask", "actionAddContact",
  "formFirstName", "formLastName", "formEmail", "formCompany", "formDueDate", "formTaskTitle",
  "formSave", "formCancel", "trackOnSend", "pickContacts", "errorNotConfigured", "errorUnauthorized",
  "errorServer", "errorOffline", "errorInvalidAddress", "wasmFailed", "taskCreated", "contactAdded", "loading",
];

test("manifest: MV3 with minimal permissions and the agreed file names", () => {
  assert.equal(manifest.manifest_version, 3);
  assert.equal(manifest.version, "0.1.0");
  assert.equal(manifest.default_locale, "en");
  assert.deepEqual(manifest.permissions, ["storage", "identity"]);
  assert.deepEqual(manifest.host_permissions, ["https://mail.google.com/*", "http://127.0.0.1/*", "http://localhost/*"]);
  assert.deepEqual(manifest.optional_host_permissions, ["https://*/*", "http://*/*"]);
  assert.deepEqual(manifest.background, { service_worker: "background.js", scripts: ["background.js"], type: "module" });
  assert.deepEqual(manifest.content_scripts, [
    { matches: ["https://mail.google.com/*"], js: ["content.js"], run_at: "document_idle", all_frames: false },
  ]);
  assert.deepEqual(manifest.web_accessible_resources, [
    { resources: ["wasm/threadline_extension_bg.wasm", "wasm/threadline_extension.js"], matches: ["https://mail.google.com/*"] },
  ]);
  assert.equal(manifest.content_security_policy.extension_pages, "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'");
  assert.deepEqual(manifest.options_ui, { page: "options.html", open_in_tab: true });
  assert.match(manifest.browser_specific_settings.gecko.id, /^[^@\s]+@[^@\s]+$/);
  assert.ok(manifest.browser_specific_settings.gecko.strict_min_version);
});

test("manifest: the files it names that this part ships exist", () => {
  for (const path of [manifest.background.service_worker, manifest.options_ui.page, ...Object.values(manifest.icons)]) {
    assert.ok(existsSync(EXT + path), path);
  }
  for (const [size, path] of Object.entries(manifest.icons)) {
    const png = readFileSync(EXT + path);
    assert.equal(png.subarray(1, 4).toString(), "PNG", path);
    assert.equal(png.readUInt32BE(16), Number(size), `${path} width`);
    assert.equal(png.readUInt32BE(20), Number(size), `${path} height`);
  }
});

test("manifest: __MSG_ names exist in every locale", () => {
  const names = JSON.stringify(manifest).match(/__MSG_(\w+)__/g).map((m) => m.slice(6, -2));
  assert.ok(names.length >= 2);
  for (const lang of LOCALES) for (const name of names) assert.ok(locale(lang)[name], `${lang}: ${name}`);
});

test("locales: same keys and placeholders everywhere, real translations", () => {
  const en = locale("en");
  for (const key of CONTENT_KEYS) assert.ok(en[key], `en lacks ${key}`);
  assert.equal(en.statusAmbiguous.message, "Several contacts share this address");
  assert.equal(en.errorUnauthorized.message, "Threadline rejected your token (expired or revoked). Sign in again in Threadline's options.");
  for (const lang of LOCALES) {
    const messages = locale(lang);
    assert.deepEqual(Object.keys(messages).sort(), Object.keys(en).sort(), lang);
    for (const [key, entry] of Object.entries(messages)) {
      assert.equal(typeof entry.message, "string", `${lang} ${key}`);
      assert.ok(entry.message.trim(), `${lang} ${key} is empty`);
      // Each $NAME$ used must be declared, with the same placeholders as English.
      const used = [...entry.message.matchAll(/\$([A-Za-z0-9_]+)\$/g)].map((m) => m[1].toLowerCase()).sort();
      assert.deepEqual(used, Object.keys(entry.placeholders || {}).sort(), `${lang} ${key} placeholders`);
      assert.deepEqual(Object.keys(entry.placeholders || {}).sort(), Object.keys(en[key].placeholders || {}).sort());
    }
  }
  // Translations differ from English where words are translatable.
  for (const lang of ["nl", "de"]) {
    for (const key of ["actionAddContact", "formCancel", "errorOffline", "optionsSave", "wasmFailed"]) {
      assert.notEqual(locale(lang)[key].message, en[key].message, `${lang} ${key}`);
    }
  }
});

test("settings: server address parsing and the permission it needs", () => {
  assert.deepEqual(parseServerUrl(DEFAULTS.serverUrl), { base: "http://127.0.0.1:8787", origin: "http://127.0.0.1:8787" });
  assert.deepEqual(parseServerUrl(" https://crm.example.com/threadline/ "), {
    base: "https://crm.example.com/threadline",
    origin: "https://crm.example.com",
  });
  assert.equal(parseServerUrl("").error, "empty");
  assert.equal(parseServerUrl("not a url").error, "malformed");
  assert.equal(parseServerUrl("ftp://x.test").error, "scheme");
  assert.equal(parseServerUrl("https://u:p@x.test").error, "credentials");
  assert.ok(isBuiltInOrigin("http://127.0.0.1:8787"));
  assert.ok(isBuiltInOrigin("http://localhost:3000"));
  assert.ok(!isBuiltInOrigin("https://localhost"));
  assert.ok(!isBuiltInOrigin("https://crm.example.com"));
  assert.equal(originPattern("https://crm.example.com:8443"), "https://crm.example.com/*");
});
