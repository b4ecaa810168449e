// Threadline content script: loads the WASM core and starts it. All the logic is in the
// core (src/); this loader only reports a failure to start — for example a page whose
// Content-Security-Policy forbids WebAssembly — clearly and without breaking the page, and
// lends the core one batching shim (`observeBody`, below).
(async () => {
  'use strict';
  const api = globalThis.browser ?? globalThis.chrome;
  try {
    const core = await import(api.runtime.getURL('wasm/threadline_extension.js'));
    await core.default({ module_or_path: api.runtime.getURL('wasm/threadline_extension_bg.wasm') });
    core.start({ observeBody });
  } catch (error) {
    const detail = String(error && error.message ? error.message : error);
    console.warn('Threadline could not start on this page:', detail);
    try {
      api.runtime.sendMessage({ type: 'reportError', message: 'wasm start failed', detail }).catch(() => {});
    } catch (_) {
      // The extension context is gone (reloaded); nothing more to report to.
    }
    showNotice();
  }

  // The body observer's batching (src/watch.rs has the rest; this file ships as is, so
  // the details live there). Each batch is checked here with the core's selectors, and the
  // core is called once per batch that adds a candidate or removes one while a compose is
  // open. Only the containers of messages and composes (`roots`) are observed in depth,
  // the body for its own children (a new container); none found, the whole body.
  function observeBody(body, spec, onBatch) {
    const { added, removed, ours, composeRoots, roots } = spec;
    let current = [];
    const handle = (records) => {
      let found = null;
      let removals = false;
      let rootsChanged = false;
      const watchRemovals = composeRoots.length > 0;
      for (const record of records) {
        for (const node of record.addedNodes) {
          if (node.nodeType !== 1 || node.hasAttribute(ours)) continue;
          if (node.matches(added) || (node.firstElementChild !== null && node.querySelector(added) !== null)) {
            (found ??= []).push(node);
          }
          if (record.target === body && (node.matches(roots) || node.querySelector(roots) !== null)) rootsChanged = true;
        }
        if (!watchRemovals || removals) continue;
        for (const node of record.removedNodes) {
          if (node.nodeType === 1 && (node.matches(removed) || composeRoots.some((root) => node.contains(root)))) {
            removals = true;
            break;
          }
        }
      }
      if (found !== null || removals) onBatch(found ?? [], removals);
      if (rootsChanged) refreshRoots();
    };
    const observer = new MutationObserver(handle);
    const refreshRoots = () => {
      const found = [...document.querySelectorAll(roots)];
      if (found.length === current.length && found.every((root, i) => root === current[i])) return;
      const pending = observer.takeRecords();
      current = found;
      observer.disconnect();
      observer.observe(body, { childList: true, subtree: found.length === 0 });
      for (const root of found) observer.observe(root, { childList: true, subtree: true });
      if (pending.length > 0) handle(pending);
    };
    observer.observe(body, { childList: true, subtree: true });
    refreshRoots();
    return { refreshRoots };
  }


  // A small, inert notice in its own shadow root, built with DOM calls only. It can be
  // dismissed and takes nothing from the page.
  function showNotice() {
    if (!document.body || document.querySelector('[data-threadline="notice"]')) return;
    const host = document.createElement('div');
    host.setAttribute('data-threadline', 'notice');
    const shadow = host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent =
      ':host{all:initial;position:fixed;right:16px;bottom:16px;z-index:2147483647}' +
      '.n{font:13px/1.4 Roboto,Arial,sans-serif;color:#3c4043;background:#fef7e0;border:1px solid #fdd663;' +
      'border-radius:8px;padding:8px 12px;max-width:360px;box-shadow:0 1px 3px rgba(60,64,67,.3)}' +
      'button{margin-left:8px;font:inherit;border:none;background:none;color:#1a73e8;cursor:pointer}';
    const box = document.createElement('div');
    box.className = 'n';
    box.setAttribute('role', 'status');
    const text = document.createElement('span');
    text.textContent = api.i18n.getMessage('wasmFailed') ||
      'Threadline could not start on this page: the page does not allow WebAssembly.';
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = '×';
    close.setAttribute('aria-label', api.i18n.getMessage('formCancel') || 'Dismiss');
    close.addEventListener('click', () => host.remove());
    box.append(text, close);
    shadow.append(style, box);
    document.body.append(host);
  }
})();
