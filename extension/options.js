// Threadline's options page. Built with DOM calls only (no innerHTML), localised through
// chrome.i18n. The stored API token is never put back into the page: after saving, the page
// only says that a token is saved.

import {
  OPTION_KEYS,
  UNDO_SEND_CHOICES,
  isBuiltInOrigin,
  isInsecureRemote,
  normalizeSettings,
  originPattern,
  parseServerUrl,
} from "./background/settings.js";
import { challengeOf, connectUrl, deviceName, randomSecret, readRedirect } from "./background/signin.js";

const msg = (key, substitutions) => chrome.i18n.getMessage(key, substitutions) || key;

/** createElement with properties, attributes (`attrs`) and children. */
function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  const { attrs, ...rest } = props;
  Object.assign(node, rest);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

/** A labelled field: label, control, optional help paragraph, and extra nodes. */
function field(id, labelKey, control, helpKey, extra = []) {
  control.id = id;
  const children = [el("label", { htmlFor: id, textContent: msg(labelKey) }), control];
  if (helpKey) {
    const help = el("p", { className: "help", id: `${id}-help`, textContent: msg(helpKey) });
    control.setAttribute("aria-describedby", help.id);
    children.push(help);
  }
  return el("div", { className: "field" }, [...children, ...extra]);
}

function build() {
  document.documentElement.lang = chrome.i18n.getUILanguage();
  document.title = msg("optionsTitle");

  const serverUrl = el("input", { type: "url", name: "serverUrl", required: true, spellcheck: false, autocomplete: "url" });
  const insecure = el("p", { className: "warning", hidden: true, textContent: msg("optionsInsecureWarning") });
  const apiToken = el("input", { type: "password", name: "apiToken", spellcheck: false, autocomplete: "off" });
  const tokenState = el("span");
  const forget = el("button", { type: "button", className: "link", textContent: msg("optionsForgetToken") });
  const trackOnSend = el("input", { type: "checkbox", name: "trackOnSendDefault", id: "trackOnSendDefault" });
  const undo = el(
    "select",
    { name: "sendUndoSeconds" },
    UNDO_SEND_CHOICES.map((s) => el("option", { value: String(s), textContent: msg("optionsSeconds", [String(s)]) })),
  );
  const signIn = el("button", { type: "button", id: "signIn", className: "primary", textContent: msg("optionsSignIn") });
  const test = el("button", { type: "button", id: "testConnection", textContent: msg("optionsTest") });
  const save = el("button", { type: "submit", className: "primary", textContent: msg("optionsSave") });
  const status = el("p", { className: "status", attrs: { role: "status", "aria-live": "polite" } });

  const form = el("form", { noValidate: true }, [
    field("serverUrl", "optionsServerUrl", serverUrl, "optionsServerUrlHelp", [insecure]),
    el("div", { className: "field signin" }, [
      signIn,
      el("p", { className: "help", id: "signIn-help", textContent: msg("optionsSignInHelp") }),
    ]),
    field("apiToken", "optionsApiToken", apiToken, "optionsApiTokenHelp", [
      el("p", { className: "token-state" }, [tokenState, forget]),
    ]),
    el("div", { className: "field checkbox" }, [
      el("label", { htmlFor: "trackOnSendDefault" }, [trackOnSend, msg("optionsTrackOnSend")]),
    ]),
    field("sendUndoSeconds", "optionsUndoSeconds", undo, "optionsUndoSecondsHelp"),
    el("div", { className: "actions" }, [save, test]),
    status,
  ]);

  document.getElementById("app").append(
    el("h1", {}, [el("img", { src: "icons/icon-48.png", alt: "" }), msg("optionsTitle")]),
    el("p", { className: "intro", textContent: msg("optionsIntro") }),
    form,
  );
  signIn.setAttribute("aria-describedby", "signIn-help");
  return { form, serverUrl, insecure, signIn, apiToken, tokenState, forget, trackOnSend, undo, test, save, status };
}

function showStatus(ui, text, kind) {
  ui.status.textContent = text;
  ui.status.className = `status ${kind || ""}`;
}

function showTokenState(ui, saved) {
  ui.tokenState.textContent = msg(saved ? "optionsTokenSaved" : "optionsTokenMissing");
  ui.forget.hidden = !saved;
  ui.apiToken.required = !saved;
}

function markInvalid(ui, fieldName) {
  for (const input of [ui.serverUrl, ui.apiToken]) input.removeAttribute("aria-invalid");
  const input = fieldName === "serverUrl" ? ui.serverUrl : fieldName === "apiToken" ? ui.apiToken : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

function updateInsecure(ui) {
  const server = parseServerUrl(ui.serverUrl.value);
  ui.insecure.hidden = !(server.origin && isInsecureRemote(server.origin));
}

/**
 * Validates the server address and asks for the host permission it needs. Must be called
 * synchronously from a click: browsers grant permission requests only during user input.
 * Resolves to the parsed address, or null after showing why not.
 */
function checkServer(ui) {
  const server = parseServerUrl(ui.serverUrl.value);
  if (server.error) {
    showStatus(ui, msg("optionsErrorServerUrl"), "error");
    markInvalid(ui, "serverUrl");
    return Promise.resolve(null);
  }
  if (isBuiltInOrigin(server.origin)) return Promise.resolve(server);
  return chrome.permissions.request({ origins: [originPattern(server.origin)] }).then(
    (granted) => {
      if (granted) return server;
      showStatus(ui, msg("optionsPermissionDenied", [server.origin]), "error");
      return null;
    },
    (e) => {
      showStatus(ui, String((e && e.message) || e), "error");
      return null;
    },
  );
}

async function busy(ui, work) {
  ui.save.disabled = true;
  ui.test.disabled = true;
  ui.signIn.disabled = true;
  try {
    await work();
  } catch (e) {
    showStatus(ui, String((e && e.message) || e), "error");
  } finally {
    ui.save.disabled = false;
    ui.test.disabled = false;
    ui.signIn.disabled = false;
  }
}

async function onSave(ui, serverChecked) {
  const server = await serverChecked;
  if (!server) return;
  const token = ui.apiToken.value.trim();
  const stored = normalizeSettings(await chrome.storage.local.get(OPTION_KEYS));
  // A saved token stays with the server it was made for: another server needs its own.
  const keepsToken = stored.apiToken && parseServerUrl(stored.serverUrl).origin === server.origin;
  if (!token && !keepsToken) {
    showStatus(ui, msg("optionsErrorNoToken"), "error");
    markInvalid(ui, "apiToken");
    return;
  }
  const values = {
    serverUrl: server.base,
    trackOnSendDefault: ui.trackOnSend.checked,
    sendUndoSeconds: Number(ui.undo.value),
  };
  if (token) values.apiToken = token;
  await chrome.storage.local.set(values);
  ui.apiToken.value = "";
  ui.serverUrl.value = server.base;
  markInvalid(ui, null);
  showTokenState(ui, true);
  showStatus(ui, msg("optionsSaved"), "ok");
}

async function onTest(ui, serverChecked) {
  const server = await serverChecked;
  if (!server) return;
  showStatus(ui, msg("optionsTesting"), "");
  const answer = await chrome.runtime.sendMessage({
    type: "testConnection",
    serverUrl: server.base,
    apiToken: ui.apiToken.value.trim(),
  });
  if (answer && answer.ok) {
    markInvalid(ui, null);
    showStatus(ui, msg("optionsConnectedAs", [answer.data.user.name, answer.data.user.email]), "ok");
  } else {
    const error = (answer && answer.error) || { message: "No answer from Threadline's service worker." };
    markInvalid(ui, error.field);
    showStatus(ui, error.message, "error");
  }
}

/**
 * Signs in through the web app: the server's page opens in the browser's identity flow, the
 * user allows this browser, and the service worker trades the code for a device token.
 */
async function onSignIn(ui, serverChecked) {
  const server = await serverChecked;
  if (!server) return;
  const redirectUri = chrome.identity.getRedirectURL();
  const verifier = randomSecret(crypto);
  const state = randomSecret(crypto);
  const challenge = await challengeOf(crypto, verifier);
  const url = connectUrl(server.base, { redirectUri, state, challenge, device: deviceName(navigator.userAgent) });
  showStatus(ui, msg("optionsSigningIn"), "");
  let responseUrl;
  try {
    responseUrl = await chrome.identity.launchWebAuthFlow({ url, interactive: true });
  } catch {
    showStatus(ui, msg("optionsSignInFailed"), "error");
    return;
  }
  const result = readRedirect(responseUrl, redirectUri, state);
  if (result.error) {
    showStatus(ui, msg(result.error === "denied" ? "optionsSignInDenied" : "optionsSignInFailed"), "error");
    return;
  }
  const answer = await chrome.runtime.sendMessage({
    type: "signIn",
    serverUrl: server.base,
    code: result.code,
    codeVerifier: verifier,
    redirectUri,
  });
  if (answer && answer.ok) {
    ui.serverUrl.value = server.base;
    markInvalid(ui, null);
    showTokenState(ui, true);
    showStatus(ui, msg("optionsSignedIn", [answer.data.device]), "ok");
  } else {
    const error = (answer && answer.error) || { message: "No answer from Threadline's service worker." };
    showStatus(ui, error.message, "error");
  }
}

/** A saved token the server refuses (a revoked device): say to sign in again. */
async function checkSavedToken(ui, settings) {
  if (!settings.apiToken || !settings.serverUrl) return;
  const answer = await chrome.runtime.sendMessage({ type: "testConnection", serverUrl: settings.serverUrl });
  if (answer && !answer.ok && answer.error && answer.error.code === "unauthorized") {
    showStatus(ui, msg("optionsSignInAgain"), "error");
  }
}

async function main() {
  const ui = build();
  const stored = await chrome.storage.local.get(OPTION_KEYS);
  const settings = normalizeSettings(stored);
  ui.serverUrl.value = settings.serverUrl;
  ui.trackOnSend.checked = settings.trackOnSendDefault;
  ui.undo.value = String(UNDO_SEND_CHOICES.includes(settings.sendUndoSeconds) ? settings.sendUndoSeconds : 10);
  showTokenState(ui, Boolean(settings.apiToken));
  updateInsecure(ui);

  ui.serverUrl.addEventListener("input", () => updateInsecure(ui));
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const checked = checkServer(ui); // synchronously, inside the user gesture
    busy(ui, () => onSave(ui, checked));
  });
  ui.signIn.addEventListener("click", () => {
    const checked = checkServer(ui); // synchronously, inside the user gesture
    busy(ui, () => onSignIn(ui, checked));
  });
  ui.test.addEventListener("click", () => {
    const checked = checkServer(ui);
    busy(ui, () => onTest(ui, checked));
  });
  ui.forget.addEventListener("click", () =>
    busy(ui, async () => {
      await chrome.storage.local.remove("apiToken");
      showTokenState(ui, false);
      showStatus(ui, msg("optionsTokenRemoved"), "ok");
    }),
  );
  checkSavedToken(ui, settings).catch(() => {});
}

main();
