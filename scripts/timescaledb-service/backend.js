// The one PGlite backend, shared by all clients one turn at a time (a turn lasts until the client's
// session is idle outside a transaction again), and the session reset between clients.
import { message, cstring, splitMessages } from './protocol.js';

const DEFAULT_SEARCH_PATH = '"$user", public';
const RESET_STATEMENTS = [
  'ROLLBACK',
  'DISCARD ALL',
  // RESET ALL (inside DISCARD ALL) leaves search_path at pg_catalog and client_min_messages at debug3.
  'SET search_path TO "$user", public',
  'SET client_min_messages TO notice',
  "SET TimeZone TO 'UTC'",
];

export const query = (sql) => message('Q', cstring(sql));

/** Status byte of the last ReadyForQuery in a response, or null when it has none. */
export function lastStatus(response) {
  let status = null;
  for (const m of splitMessages(response).messages) {
    if (m.type === 'Z') status = String.fromCharCode(m.body[0]);
  }
  return status;
}

export class Backend {
  constructor(db) {
    this.db = db;
    this.owner = null;
    this.waiters = [];
    this.clients = 0;
    this.lastOwner = null;
  }

  /**
   * Waits until `owner` has the backend (immediately when it already has it). When the turn passes
   * to another client, that client's startup search_path (or the default) is put back first.
   */
  async acquire(owner, searchPath = null) {
    if (this.owner !== owner) {
      if (this.owner === null) this.owner = owner;
      else await new Promise((resolve) => this.waiters.push({ owner, resolve }));
    }
    if (this.lastOwner !== owner) {
      this.lastOwner = owner;
      const path = (searchPath ?? DEFAULT_SEARCH_PATH).replace(/'/g, "''");
      await this.exec(query(`SELECT pg_catalog.set_config('search_path', '${path}', false)`));
    }
  }

  /** Hands the backend to the next waiting client (first come, first served). */
  release(owner) {
    if (this.owner !== owner) return;
    const next = this.waiters.shift();
    this.owner = next ? next.owner : null;
    if (next) next.resolve();
  }

  /** Drops a waiter that went away before its turn. */
  forget(owner) {
    this.waiters = this.waiters.filter((w) => w.owner !== owner);
  }

  async exec(bytes) {
    return Buffer.from(await this.db.execProtocolRaw(bytes));
  }

  /** Puts the one session back to a fresh client's state; callers hold the backend. */
  async resetSession() {
    await this.exec(Buffer.concat(RESET_STATEMENTS.map(query)));
    this.lastOwner = null;
  }

  /** Resolves once no client holds or waits for the backend. */
  async idle() {
    const token = {};
    await this.acquire(token);
    this.release(token);
  }

  async serverParameters() {
    const show = async (name) => (await this.db.query(`SELECT current_setting('${name}') AS v`)).rows[0].v;
    return {
      server_version: await show('server_version'),
      server_encoding: 'UTF8',
      client_encoding: 'UTF8',
      DateStyle: await show('DateStyle'),
      IntervalStyle: await show('IntervalStyle'),
      integer_datetimes: 'on',
      standard_conforming_strings: 'on',
      TimeZone: await show('TimeZone'),
      is_superuser: 'on',
    };
  }
}
