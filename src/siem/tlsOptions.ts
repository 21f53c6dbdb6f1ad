import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ReceiverTlsConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';

/** Node TLS options from a receiver's TLS configuration: the files read once, at start. */
export function receiverTls(config: ReceiverTlsConfig | undefined, what: string): ConnectionOptions {
  const read = (file: string | undefined, key: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${what}.tls.${key}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const ca = read(config?.ca_file, 'ca_file');
  const cert = read(config?.cert_file, 'cert_file');
  const key = read(config?.key_file, 'key_file');
  return {
    rejectUnauthorized: config?.reject_unauthorized ?? true,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(config?.servername ? { servername: config.servername } : {}),
  };
}
