/** A Server-Sent Events parser (the WHATWG rules) fed text chunks: events, `id:`, `retry:`;
 * comments (heartbeats) skipped. */
export interface SSEvent { type: string; data: string; id: string }

export class SSEParser {
  lastId = "";
  retry: number | null = null;
  private buf = "";
  private data: string[] = [];
  private type = "";
  private seen = false;

  /** Feed a chunk; returns the events it completed. */
  feed(chunk: string): SSEvent[] {
    const out: SSEvent[] = [];
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      // A lone \r at the end of a chunk may be half of \r\n: wait for the next chunk.
      if (this.buf[i] === "\r" && i === this.buf.length - 1) break;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + (this.buf.startsWith("\r\n", i) ? 2 : 1));
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: SSEvent[]) {
    if (line === "") {
      if (this.seen) out.push({ type: this.type || "message", data: this.data.join("\n"),
        id: this.lastId });
      this.data = [];
      this.type = "";
      this.seen = false;
      return;
    }
    if (line[0] === ":") return;
    const c = line.indexOf(":");
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? "" : line.slice(c + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "data") { this.data.push(value); this.seen = true; }
    else if (field === "event") this.type = value;
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) this.retry = Number(value);
  }
}
