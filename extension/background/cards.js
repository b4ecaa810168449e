// The contact panel's cards (`GET /api/v1/contacts/{id}/card`): one per contact, kept as long
// as an address verdict (LOOKUP_TTL_MS), the most recently used MAX_CARDS of them; concurrent
// requests for one card share one server request. Invalidated like the lookup cache — every
// card goes when the server or token changes (another fingerprint) or the options change —
// and also when a queued action is delivered: a tracked email, a task or a new contact
// changes what cards show.

import { LOOKUP_TTL_MS } from "./lookup.js";

export const CARD_TTL_MS = LOOKUP_TTL_MS;
export const MAX_CARDS = 50;
/** A contact id as the server writes them (a UUID): the only thing put in the card's path. */
export const CONTACT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class CardCache {
  /**
   * @param {object} deps
   * @param {() => number} deps.now
   * @param {(id: string) => Promise<object>} deps.fetchCard GETs one card; rejects with a
   *   protocol error.
   */
  constructor({ now, fetchCard }) {
    this.now = now;
    this.fetchCard = fetchCard;
    this.entries = new Map(); // id -> { value, expires }, least recently used first
    this.inflight = new Map(); // id -> Promise<card>
    this.generation = 0;
    this.fingerprint = null;
  }

  /** Forgets every card, and the answers of requests still in flight. */
  invalidate() {
    this.generation += 1;
    this.entries.clear();
    this.inflight.clear();
  }

  /** The card of contact `id` for the server and token `fingerprint`. */
  card(fingerprint, id) {
    if (this.fingerprint !== fingerprint) {
      if (this.fingerprint !== null) this.invalidate();
      this.fingerprint = fingerprint;
    }
    const entry = this.entries.get(id);
    if (entry && entry.expires > this.now()) {
      this.entries.delete(id);
      this.entries.set(id, entry); // most recently used last
      return Promise.resolve(entry.value);
    }
    this.entries.delete(id);
    if (this.inflight.has(id)) return this.inflight.get(id);
    const generation = this.generation;
    const pending = this.fetchCard(id).then((value) => {
      if (generation === this.generation) {
        this.entries.set(id, { value, expires: this.now() + CARD_TTL_MS });
        while (this.entries.size > MAX_CARDS) this.entries.delete(this.entries.keys().next().value);
      }
      return value;
    });
    const settle = () => {
      if (this.inflight.get(id) === pending) this.inflight.delete(id);
    };
    pending.then(settle, settle);
    this.inflight.set(id, pending);
    return pending;
  }
}
