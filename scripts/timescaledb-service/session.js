// One client connection: startup handshake, message reassembly, per-client statement names, COPY FROM
// STDIN buffered until CopyDone, and the turn on the shared backend.
import {
  SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST, PROTOCOL_3,
  message, cstring, readCString, splitMessages,
  authenticationOk, parameterStatus, backendKeyData, readyForQuery, commandComplete, errorResponse, copyInResponse,
} from './protocol.js';
import fs from 'node:fs';
import { query, lastStatus } from './backend.js';

const COPY_FROM_STDIN = /^\s*COPY\s+((?:"[^"]+"|[^\s(]+)(?:\.(?:"[^"]+"|[^\s(]+))?)\s*(\(([^)]*)\))?\s+FROM\s+STDIN\b([\s\S]*)$/i;
const RESET_QUERY = /^\s*DISCARD\s+(ALL|TEMP|TEMPORARY)\s*;?\s*$/i;

// SMSTREAM_TIMESCALEDB_TRACE=FILE appends one line per exchange (client, message types in, types out) for debugging.
const TRACE = process.env.SMSTREAM_TIMESCALEDB_TRACE;
const types = (buffer) => splitMessages(buffer).messages
  .map((m) => (m.type === 'C' ? `C(${m.body.toString('utf8', 0, m.body.length - 1)})`
    : m.type === 'Q' ? `Q(${m.body.toString('utf8', 0, Math.min(60, m.body.length - 1)).replace(/\s+/g, ' ')})`
      : m.type === 'P' ? `P(${m.body.toString('utf8', m.body.indexOf(0) + 1, Math.min(m.body.indexOf(0) + 60, m.body.length)).replace(/\s+/g, ' ').replace(/\0.*/, '')})`
        : m.type === 'E' && false ? '' : m.type))
  .join('');
const trace = TRACE
  ? (text) => fs.appendFileSync(TRACE, `${new Date().toISOString()} ${text}\n`)
  : null;

export class ClientSession {
  constructor(id, socket, backend, params, sessions) {
    this.id = id;
    this.socket = socket;
    this.backend = backend;
    this.params = params;
    this.sessions = sessions;
    this.buffer = Buffer.alloc(0);
    this.started = false;
    this.closed = false;
    this.status = 'I';
    this.searchPath = null;
    this.prefix = `c${id}_`;
    this.statements = new Set();
    this.pending = [];
    this.copy = null;
    this.work = Promise.resolve();
    backend.clients++;
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => socket.destroy());
  }

  onData(chunk) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    try {
      if (!this.started && !this.readStartup()) return;
      const { messages, rest } = splitMessages(this.buffer);
      this.buffer = Buffer.from(rest);
      for (const m of messages) this.onMessage(m);
      this.flushPending();
    } catch (err) {
      this.fail('08P01', `protocol violation: ${err.message}`);
    }
  }

  /** Handles SSL/GSS requests, cancel requests and the startup message; true once started. */
  readStartup() {
    while (!this.started) {
      if (this.buffer.length < 8) return false;
      const length = this.buffer.readInt32BE(0);
      if (length < 8 || length > 10000) throw new Error(`invalid startup length ${length}`);
      if (this.buffer.length < length) return false;
      const code = this.buffer.readInt32BE(4);
      const body = this.buffer.subarray(8, length);
      this.buffer = this.buffer.subarray(length);
      if (trace) trace(`c${this.id} startup code ${code}`);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.socket.write('N');
      } else if (code === CANCEL_REQUEST) {
        // A running statement inside the WASM backend cannot be interrupted.
        this.socket.destroy();
        return false;
      } else if (code === PROTOCOL_3) {
        this.started = true;
        const startup = this.startupParameters(body);
        this.searchPath = startup.search_path ?? null;
        this.greet(startup);
      } else {
        throw new Error(`unsupported protocol ${code >> 16}.${code & 0xffff}`);
      }
    }
    return true;
  }

  startupParameters(body) {
    const result = {};
    let offset = 0;
    while (offset < body.length && body[offset] !== 0) {
      const [name, next] = readCString(body, offset);
      const [value, after] = readCString(body, next);
      result[name] = value;
      offset = after;
    }
    return result;
  }

  greet(startup) {
    const out = [authenticationOk()];
    for (const [name, value] of Object.entries(this.params)) out.push(parameterStatus(name, value));
    out.push(parameterStatus('application_name', startup.application_name ?? ''));
    out.push(parameterStatus('session_authorization', startup.user ?? 'postgres'));
    out.push(backendKeyData(this.id, (Math.random() * 0x7fffffff) | 0));
    out.push(readyForQuery('I'));
    this.socket.write(Buffer.concat(out));
  }

  onMessage(m) {
    if (this.copy) {
      if (m.type === 'd') this.copy.chunks.push(Buffer.from(m.raw));
      else if (m.type === 'c' || m.type === 'f') this.finishCopy(Buffer.from(m.raw));
      return; // Flush/Sync are ignored during COPY IN, as PostgreSQL does.
    }
    switch (m.type) {
      case 'X':
        this.socket.end();
        return;
      case 'Q':
        this.onQuery(m);
        return;
      case 'P': case 'B': case 'D': case 'C': case 'E':
        this.pending.push(this.renamed(m));
        return;
      default:
        this.pending.push(Buffer.from(m.raw));
    }
  }

  onQuery(m) {
    const [sql] = readCString(m.body, 0);
    const copy = COPY_FROM_STDIN.exec(sql);
    if (copy) {
      this.flushPending();
      this.copy = { query: Buffer.from(m.raw), chunks: [] };
      this.enqueue(() => this.startCopy(copy));
      return;
    }
    const reset = RESET_QUERY.exec(sql);
    if (reset) {
      this.flushPending();
      this.enqueue(() => this.answerReset(sql, reset[1].toUpperCase()));
      return;
    }
    this.pending.push(Buffer.from(m.raw));
  }

  /** Prefixes statement and portal names so clients sharing the backend never collide. */
  renamed(m) {
    const rename = (name) => (name === '' ? '' : this.prefix + name);
    const b = m.body;
    switch (m.type) {
      case 'P': {
        const [name, next] = readCString(b, 0);
        if (name !== '') this.statements.add(rename(name));
        return message('P', Buffer.concat([cstring(rename(name)), b.subarray(next)]));
      }
      case 'B': {
        const [portal, next] = readCString(b, 0);
        const [statement, after] = readCString(b, next);
        return message('B', Buffer.concat([cstring(rename(portal)), cstring(rename(statement)), b.subarray(after)]));
      }
      case 'E': {
        const [portal, next] = readCString(b, 0);
        return message('E', Buffer.concat([cstring(rename(portal)), b.subarray(next)]));
      }
      default: { // 'D' Describe, 'C' Close: kind byte then name
        const [name] = readCString(b, 1);
        if (m.type === 'C' && b[0] === 0x53) this.statements.delete(rename(name));
        return message(m.type, Buffer.concat([b.subarray(0, 1), cstring(rename(name))]));
      }
    }
  }

  flushPending() {
    if (this.pending.length === 0) return;
    const bytes = Buffer.concat(this.pending);
    this.pending = [];
    this.enqueue(() => this.run(bytes));
  }

  enqueue(step) {
    this.work = this.work.then(async () => {
      if (this.closed) return;
      await step();
    }).catch((err) => this.fail('XX000', `timescaledb-service: ${err.message}`));
  }

  async run(bytes) {
    await this.backend.acquire(this, this.searchPath);
    const response = await this.backend.exec(bytes);
    if (trace) trace(`c${this.id} ${types(bytes)} -> ${types(response)}`);
    this.reply(response);
  }

  reply(response) {
    if (!this.closed) this.socket.write(response);
    const status = lastStatus(response);
    if (status) this.status = status;
    if (status === 'I' && !this.copy) this.backend.release(this);
  }

  /** Answers CopyInResponse itself: PGlite needs the whole COPY (query, data, end) in one call. */
  async startCopy(match) {
    await this.backend.acquire(this, this.searchPath);
    const [, table, , columnList, options] = match;
    const binary = /\bbinary\b/i.test(options ?? '');
    const columns = columnList !== undefined
      ? columnList.split(',').filter((c) => c.trim() !== '').length
      : await this.columnCount(table);
    if (!this.closed) this.socket.write(copyInResponse(binary, columns));
  }

  async columnCount(table) {
    const literal = table.replace(/'/g, "''");
    const response = await this.backend.exec(query(
      `SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('${literal}') AND attnum > 0 AND NOT attisdropped`));
    for (const m of splitMessages(response).messages) {
      if (m.type === 'D' && m.body.readInt16BE(0) === 1 && m.body.readInt32BE(2) > 0) {
        return Number.parseInt(m.body.toString('utf8', 6, 6 + m.body.readInt32BE(2)), 10);
      }
    }
    return 0;
  }

  finishCopy(end) {
    const { query: start, chunks } = this.copy;
    this.copy = null;
    this.enqueue(async () => {
      await this.backend.acquire(this, this.searchPath);
      const response = await this.backend.exec(Buffer.concat([start, ...chunks, end]));
      // The client already has its CopyInResponse.
      const kept = splitMessages(response).messages.filter((m) => m.type !== 'G').map((m) => m.raw);
      if (trace) trace(`c${this.id} ${types(start)} ${chunks.length} chunks -> ${types(response)}`);
      this.reply(Buffer.concat(kept));
    });
  }

  /**
   * DISCARD from a client (Npgsql sends one when a pooled connection is reused) must not drop other
   * clients' temp tables or settings: outside a transaction it is answered here, and the server
   * resets the shared session itself when this is the only client.
   */
  async answerReset(sql, what) {
    if (this.status !== 'I') {
      await this.run(query(sql));
      return;
    }
    if (this.backend.clients === 1) {
      await this.backend.acquire(this, this.searchPath);
      await this.backend.resetSession();
      this.backend.release(this);
    }
    if (!this.closed) this.socket.write(Buffer.concat([commandComplete(what === 'ALL' ? 'DISCARD ALL' : 'DISCARD TEMP'), readyForQuery('I')]));
  }

  fail(sqlState, text) {
    if (!this.closed) {
      this.socket.write(errorResponse(sqlState, text, 'FATAL'));
      this.socket.destroy();
    }
  }

  onClose() {
    if (this.closed) return;
    if (trace) trace(`c${this.id} closed (holding: ${this.backend.owner === this}, status ${this.status})`);
    this.closed = true;
    this.sessions.delete(this);
    this.backend.clients--;
    this.work = this.work.then(() => this.cleanup()).catch((err) => {
      console.error(`timescaledb-service: cleanup of client ${this.id} failed: ${err.message}`);
      this.backend.release(this);
    });
  }

  /** Rolls back what the client left open, closes its statements, and resets when nobody is left. */
  async cleanup() {
    const holding = this.backend.owner === this;
    const last = this.backend.clients === 0;
    if (!holding && !last && this.statements.size === 0) {
      this.backend.forget(this);
      return;
    }
    await this.backend.acquire(this, this.searchPath);
    if (last) {
      await this.backend.resetSession();
    } else {
      const out = [];
      if (this.status !== 'I' || holding) out.push(query('ROLLBACK'));
      for (const name of this.statements) out.push(message('C', Buffer.concat([Buffer.from('S'), cstring(name)])));
      out.push(message('S', Buffer.alloc(0)));
      await this.backend.exec(Buffer.concat(out));
    }
    this.backend.release(this);
  }
}
