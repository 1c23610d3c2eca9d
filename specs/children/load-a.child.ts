// Full load, worker a: see load.ts.
import { eightLabs } from './load.js';

eightLabs('load-a');
