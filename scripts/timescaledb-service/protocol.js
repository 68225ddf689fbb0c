// PostgreSQL v3 wire-protocol framing: building server messages and walking message streams.

export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;

/** One typed message: type byte, int32 length (itself included), body. */
export function message(type, body) {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(body.length + 4, 1);
  body.copy(out, 5);
  return out;
}

export function cstring(text) {
  return Buffer.from(`${text}\0`, 'utf8');
}

export const authenticationOk = () => message('R', Buffer.from([0, 0, 0, 0]));
export const parameterStatus = (name, value) => message('S', Buffer.concat([cstring(name), cstring(value)]));
export const readyForQuery = (status) => message('Z', Buffer.from(status, 'latin1'));
export const commandComplete = (tag) => message('C', cstring(tag));

export function backendKeyData(pid, secret) {
  const body = Buffer.allocUnsafe(8);
  body.writeInt32BE(pid, 0);
  body.writeInt32BE(secret, 4);
  return message('K', body);
}

/** ErrorResponse with severity, SQLSTATE and message fields. */
export function errorResponse(sqlState, text, severity = 'ERROR') {
  return message('E', Buffer.concat([
    Buffer.from('S'), cstring(severity), Buffer.from('V'), cstring(severity),
    Buffer.from('C'), cstring(sqlState), Buffer.from('M'), cstring(text), Buffer.from([0]),
  ]));
}

/** CopyInResponse: overall format (0 text, 1 binary) and the same format for every column. */
export function copyInResponse(binary, columns) {
  const body = Buffer.alloc(3 + 2 * columns);
  body[0] = binary ? 1 : 0;
  body.writeInt16BE(columns, 1);
  for (let i = 0; i < columns; i++) body.writeInt16BE(binary ? 1 : 0, 3 + 2 * i);
  return message('G', body);
}

/**
 * Splits complete typed messages off the front of `buffer`.
 * Returns { messages: [{ type, body, raw }], rest } where `rest` is an incomplete tail.
 */
export function splitMessages(buffer) {
  const messages = [];
  let offset = 0;
  while (buffer.length - offset >= 5) {
    const length = buffer.readInt32BE(offset + 1);
    if (length < 4) throw new Error(`invalid message length ${length}`);
    const end = offset + 1 + length;
    if (end > buffer.length) break;
    messages.push({
      type: String.fromCharCode(buffer[offset]),
      body: buffer.subarray(offset + 5, end),
      raw: buffer.subarray(offset, end),
    });
    offset = end;
  }
  return { messages, rest: buffer.subarray(offset) };
}

/** Reads a NUL-terminated string at `offset`; returns [text, offsetAfter]. */
export function readCString(buffer, offset) {
  const end = buffer.indexOf(0, offset);
  if (end < 0) throw new Error('unterminated string in message');
  return [buffer.toString('utf8', offset, end), end + 1];
}
