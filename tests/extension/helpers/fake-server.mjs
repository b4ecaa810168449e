// A real HTTP server on 127.0.0.1 standing in for the Threadline server: it answers
// /api/v1 with the shapes of crates/domain/src/api.rs, replays answers for a
// repeated Idempotency-Key like the real server, records every request, and can be taken
// down (the port refuses connections), brought back up, or made to fail.

import { randomUUID } from "node:crypto";
import http from "node:http";

export const GOOD_TOKEN = "tl_test_token_1";
/** The extension's sign-in: the one code and verifier the fake server trades for GOOD_TOKEN. */
export const SIGNIN_CODE = `tlc_${"a".repeat(64)}`;
export const SIGNIN_VERIFIER = "v".repeat(43);
export const USER = Object.freeze({ id: "00000000-0000-4000-8000-000000000001", name: "Ada Lovelace", email: "ada@example.com" });

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};
const errorBody = (code, message, field) => ({ error: { code, message, ...(field ? { field } : {}) } });

export class FakeThreadlineServer {
  constructor() {
    this.requests = [];
    this.contacts = []; // { id, first_name, last_name, emails, company }
    this.tracked = []; // TrackedEmail
    this.tasks = [];
    this.replays = new Map(); // Idempotency-Key -> { status, body }
    this.ownAddresses = ["ada@example.com"];
    /** Consumed one per request: { status, body?, headers?, afterEffect? } */
    this.failures = [];
    this.mode = "ok"; // "ok" | "401" | "500"
    this.holds = new Map(); // path -> Promise that requests to it wait for
    this.arrivals = []; // { path, resolve } waiting for a request
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.port = 0;
  }

  async start() {
    await new Promise((resolve) => this.server.listen(this.port, "127.0.0.1", resolve));
    this.port = this.server.address().port;
    return this;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops listening: connections to the port are refused until `up()`. */
  async down() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  async up() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await this.start();
  }

  async stop() {
    if (this.server.listening) await this.down();
  }

  /** Makes requests to `path` wait until the returned function is called. */
  hold(path) {
    let release;
    this.holds.set(path, new Promise((resolve) => (release = resolve)));
    return () => {
      this.holds.delete(path);
      release();
    };
  }

  /** Resolves when the next request to `path` arrives. */
  nextRequest(path) {
    return new Promise((resolve) => this.arrivals.push({ path, resolve }));
  }

  /** Requests to `path` (method POST unless given). */
  requestsTo(path, method = "POST") {
    return this.requests.filter((r) => r.path === path && r.method === method);
  }

  addContact(first, last, emails, company = null) {
    const contact = { id: randomUUID(), first_name: first, last_name: last, emails, company, created_at: new Date().toISOString() };
    this.contacts.push(contact);
    return contact;
  }

  async handle(req, res) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = Buffer.concat(chunks);
    const text = raw.toString("utf8");
    const isJson = !req.headers["content-type"] || req.headers["content-type"].startsWith("application/json");
    const record = {
      method: req.method,
      path: req.url,
      headers: { ...req.headers },
      body: text && isJson ? JSON.parse(text) : null,
      raw, // the bytes as received (a raw email source)
    };
    this.requests.push(record);
    for (const waiter of this.arrivals.filter((a) => a.path === req.url)) {
      this.arrivals.splice(this.arrivals.indexOf(waiter), 1);
      waiter.resolve(record);
    }
    if (this.holds.has(req.url)) await this.holds.get(req.url);

    if (req.method === "POST" && req.url === "/api/v1/extension/token") {
      // Needs no token; the code is spent by its first use.
      const body = record.body || {};
      if (!req.headers.authorization && body.code === SIGNIN_CODE && !this.codeSpent && body.code_verifier === SIGNIN_VERIFIER) {
        this.codeSpent = true;
        return json(res, 200, { id: "00000000-0000-4000-8000-0000000000d1", token: GOOD_TOKEN, device: "Chrome on Linux" });
      }
      this.codeSpent = true;
      return json(res, 400, errorBody("invalid_code", "This sign-in code is not valid."));
    }
    if (req.headers.authorization !== `Bearer ${GOOD_TOKEN}` || this.mode === "401") {
      return json(res, 401, errorBody("unauthorized", "The API token is not valid."));
    }
    if (this.mode === "500") return json(res, 500, errorBody("internal", "Something broke."));

    const failure = this.failures.shift();
    if (failure && !failure.afterEffect) {
      return json(res, failure.status, failure.body || errorBody("failure", "Injected failure."), failure.headers);
    }
    const key = req.headers["idempotency-key"];
    const fingerprint = `${req.method} ${req.url}\n${JSON.stringify(record.body)}`;
    if (key && this.replays.has(key)) {
      const replay = this.replays.get(key);
      if (replay.fingerprint !== fingerprint) {
        return json(res, 422, errorBody("idempotency_key_reused", "This Idempotency-Key was used for another request.", "Idempotency-Key"));
      }
      return json(res, replay.status, replay.body, { "Idempotent-Replayed": "true" });
    }
    const [status, body] = this.route(req.method, req.url, record.body);
    if (key && status < 300) this.replays.set(key, { status, body, fingerprint });
    if (failure) {
      // The request took effect but its answer is lost.
      return json(res, failure.status, failure.body || errorBody("failure", "Injected failure."), failure.headers);
    }
    return json(res, status, body);
  }

  route(method, path, body) {
    const route = `${method} ${path}`;
    if (method === "GET" && path.startsWith("/api/v1/contacts?")) return this.listContacts(path);
    const card = /^GET \/api\/v1\/contacts\/([^/]+)\/card$/.exec(route);
    if (card) return this.card(card[1]);
    switch (route) {
      case "GET /api/v1/me":
        return [200, { user: USER, own_addresses: this.ownAddresses }];
      case "POST /api/v1/lookup":
        return this.lookup(body);
      case "POST /api/v1/tracked-emails/state":
        return this.state(body);
      case "POST /api/v1/tracked-emails":
        return this.track(body);
      case "POST /api/v1/tasks":
        return this.task(body);
      case "POST /api/v1/contacts":
        return this.contact(body);
      default:
        if (method === "PUT" && /^\/api\/v1\/tracked-emails\/[^/]+\/source$/.test(path)) return [200, { changed: true }];
        return [404, errorBody("not_found", `No route ${route}.`)];
    }
  }

  /** `GET /api/v1/contacts?limit=&q=`: the records list, searched by name and address. */
  listContacts(path) {
    const params = new URL(path, "http://x").searchParams;
    const q = (params.get("q") || "").toLowerCase();
    const limit = Number(params.get("limit") || 50);
    const items = this.contacts
      .filter((c) => `${c.first_name} ${c.last_name}`.toLowerCase().includes(q) || c.emails.some((e) => e.includes(q)))
      .slice(0, limit)
      .map((c) => ({ ...c, primary_email: c.emails[0], phones: [], version: 1 }));
    return [200, { items, next_cursor: null }];
  }

  /** A contact's card: the contact, and as many tracked emails as were tracked to it. */
  card(id) {
    const contact = this.contacts.find((c) => c.id === id);
    if (!contact) return [404, errorBody("not_found", `there is no contact with id ${id}`)];
    const emails = this.requestsTo("/api/v1/tracked-emails").filter((r) => r.body.contact_ids.includes(id));
    return [200, {
      contact: this.summary(contact),
      phones: [],
      emails: emails.map((r) => ({ subject: r.body.subject })),
      more_emails: false,
      open_tasks: [],
      open_task_count: 0,
      document_count: 0,
      documents: [],
    }];
  }

  summary(contact) {
    return {
      id: contact.id,
      first_name: contact.first_name,
      last_name: contact.last_name,
      primary_email: contact.emails[0],
      ...(contact.company ? { company: contact.company } : {}),
    };
  }

  lookup(body) {
    if (!body || !Array.isArray(body.addresses) || Object.keys(body).length !== 1) {
      return [400, errorBody("invalid_field", "Expected { addresses }.", "addresses")];
    }
    if (body.addresses.length > 500) return [400, errorBody("too_many", "At most 500 addresses.", "addresses")];
    const results = body.addresses.map((address) => {
      const normalized = address.trim().toLowerCase();
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(normalized)) {
        return { address, status: "invalid", contacts: [], suggestions: [], error: "not an email address" };
      }
      if (this.ownAddresses.includes(normalized)) return { address, normalized, status: "own", contacts: [], suggestions: [] };
      const matches = this.contacts.filter((c) => c.emails.includes(normalized)).map((c) => this.summary(c));
      const status = matches.length === 0 ? "unknown" : matches.length === 1 ? "known" : "ambiguous";
      const result = { address, normalized, status, contacts: matches, suggestions: [] };
      if (status === "unknown") {
        const domain = normalized.split("@")[1];
        result.suggested_company = { domain, name: domain.split(".")[0] };
      }
      return result;
    });
    return [200, { results }];
  }

  findTracked(ids) {
    return this.tracked.find((t) => t.message_ids.some((id) => ids.includes(id))) || null;
  }

  state(body) {
    if (!body || !Array.isArray(body.messages)) return [400, errorBody("invalid_field", "Expected { messages }.", "messages")];
    if (body.messages.length > 500) return [400, errorBody("too_many", "At most 500 messages.", "messages")];
    const messages = body.messages.map(({ ids }) => {
      const tracked = this.findTracked(ids);
      const tasks = this.tasks.filter((t) => ids.includes(t.source_message_id));
      return tracked ? { tracked_email: tracked, tasks } : { tasks };
    });
    return [200, { messages }];
  }

  track(body) {
    if (!body || typeof body.gmail_message_id !== "string") {
      return [400, errorBody("invalid_field", "gmail_message_id is required.", "gmail_message_id")];
    }
    if (!Array.isArray(body.contact_ids) || body.contact_ids.length === 0) {
      return [422, errorBody("invalid_field", "Pick at least one contact.", "contact_ids")];
    }
    const ids = [body.gmail_message_id, ...(body.alt_message_ids || []), ...(body.rfc_message_id ? [body.rfc_message_id] : [])];
    const existing = this.findTracked(ids);
    if (existing) return [200, { tracked_email: existing, created: false }];
    const tracked = {
      id: randomUUID(),
      gmail_message_id: body.gmail_message_id,
      message_ids: ids,
      direction: body.direction,
      subject: body.subject || "",
      links: body.contact_ids.map((id) => ({ record_kind: "contact", record_id: id, record_name: "Contact" })),
      created_at: new Date().toISOString(),
    };
    this.tracked.push(tracked);
    return [201, { tracked_email: tracked, created: true }];
  }

  task(body) {
    if (!body || typeof body.title !== "string" || !body.title.trim()) {
      return [422, errorBody("invalid_field", "A task needs a title.", "title")];
    }
    const task = { id: randomUUID(), title: body.title, assignee: USER, done: false, created_at: new Date().toISOString() };
    if (body.source_message_id) task.source_message_id = body.source_message_id;
    if (body.due_date) task.due_date = body.due_date;
    this.tasks.push(task);
    return [201, task];
  }

  contact(body) {
    if (!body || !Array.isArray(body.emails) || body.emails.length === 0) {
      return [422, errorBody("invalid_field", "At least one address.", "emails")];
    }
    const bad = body.emails.findIndex((e) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e));
    if (bad >= 0) return [422, errorBody("invalid_field", "Not an email address.", `emails[${bad}]`)];
    const contact = this.addContact(body.first_name || "", body.last_name || "", body.emails.map((e) => e.trim().toLowerCase()));
    return [201, contact];
  }
}
