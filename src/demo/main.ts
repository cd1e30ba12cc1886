/** `npm run demo [-- --engine postgres --rows 200000]`: the same as `ghostwright demo`. */
import { main } from '../cli/main.js';

await main([process.argv[0]!, 'ghostwright', 'demo', ...process.argv.slice(2)]);
