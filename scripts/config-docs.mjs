// Writes docs/configuration.md from schemas/config.schema.json (through the built module).
import { writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../dist/config/configDocs.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDocs());
