// Full load, worker b: see load.ts.
import { eightLabs } from './load.js';

eightLabs('load-b');
