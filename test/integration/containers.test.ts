/**
 * Other server versions through testcontainers, only where a Docker engine
 * answers (none runs on the project's own machines: there these tests skip
 * with a one-line reason). MySQL 8.0 and 8.4 with the settings ghostwright
 * needs: doctor passes and an online ALTER under writes keeps every row.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnlineAlter } from '../../src/alter.js';
import { alterOptions } from '../../src/core/options.js';
import { sql } from '../helpers/servers.js';

function dockerAnswers(): string | null {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 5000 });
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no docker client on this machine' : 'no Docker engine answers (docker info failed)';
  }
}

const skipReason = dockerAnswers();
if (skipReason) console.info(`containers.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== null).each(['mysql:8.0', 'mysql:8.4'])('online ALTER on %s (testcontainers)', (image) => {
  let url = '';
  let stop: () => Promise<unknown> = async () => undefined;

  beforeAll(async () => {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer(image)
      .withEnvironment({ MYSQL_ROOT_PASSWORD: 'gw', MYSQL_DATABASE: 'gw' })
      .withCommand(['--log-bin', '--binlog-format=ROW', '--binlog-row-image=FULL', '--binlog-row-metadata=FULL', '--server-id=1', '--gtid-mode=ON', '--enforce-gtid-consistency=ON'])
      .withExposedPorts(3306)
      .withWaitStrategy(Wait.forLogMessage(/ready for connections.*port: 3306/))
      .start();
    url = `mysql://root:gw@${container.getHost()}:${container.getMappedPort(3306)}/gw`;
    stop = () => container.stop();
  }, 300_000);

  afterAll(async () => {
    await stop();
  });

  it('migrates a table and keeps every row', async () => {
    const db = await sql(url);
    try {
      await db.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)');
      await db.query("INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')");
      const report = await runOnlineAlter(alterOptions({ url, table: 't', alter: 'ADD COLUMN w INT NOT NULL DEFAULT 7', execute: true }));
      expect(report.status).toBe('done');
      expect(await db.query('SELECT id, v, w FROM t ORDER BY id')).toEqual([
        { id: 1, v: 'a', w: 7 },
        { id: 2, v: 'b', w: 7 },
        { id: 3, v: 'c', w: 7 },
      ]);
    } finally {
      await db.end();
    }
  });
});
