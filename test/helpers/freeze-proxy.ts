/**
 * A TCP proxy in front of a test server that can stop forwarding: what a
 * frozen server (SIGSTOP, a stuck storage layer, a paused VM) looks like to
 * a client, without freezing the server the other test files share. While
 * frozen, open connections carry nothing either way and new connections are
 * accepted (as the kernel accepts them for a stopped process) but get no
 * bytes; thaw() lets everything through again.
 */
import net from 'node:net';

export class FreezeProxy {
  private readonly server: net.Server;
  /** Per connection: bytes held while frozen, each way, and the way to open upstream. */
  private readonly links = new Set<Link>();
  private frozen = false;

  private constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.server = net.createServer((client) => {
      const link: Link = { client, upstream: null, held: [] };
      this.links.add(link);
      client.on('error', () => undefined);
      client.on('close', () => {
        link.upstream?.destroy();
        this.links.delete(link);
      });
      client.on('data', (d) => this.forward(link, () => link.upstream?.write(d)));
      this.forward(link, () => {
        if (client.destroyed) return;
        const upstream = net.connect(this.port, this.host);
        link.upstream = upstream;
        upstream.on('error', () => client.destroy());
        upstream.on('close', () => client.destroy());
        upstream.on('data', (d) => this.forward(link, () => client.write(d)));
      });
    });
  }

  private forward(link: Link, step: () => void): void {
    if (this.frozen || link.held.length > 0) link.held.push(step);
    else step();
  }

  static async start(url: string): Promise<{ proxy: FreezeProxy; url: string }> {
    const u = new URL(url);
    const proxy = new FreezeProxy(u.hostname, Number(u.port));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    u.hostname = '127.0.0.1';
    u.port = String((proxy.server.address() as net.AddressInfo).port);
    return { proxy, url: u.toString() };
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const link of this.links) for (const step of link.held.splice(0)) step();
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream?.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Link {
  client: net.Socket;
  upstream: net.Socket | null;
  held: Array<() => void>;
}
