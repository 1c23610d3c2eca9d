// A setup file of every project (vitest.config.ts): the temporary folders a spec file made (specs/helpers/temp.ts) are
// removed when that file's tests have all ended, concurrent ones included.
import { afterAll } from 'vitest';
import { removeTempDirs } from './temp.js';

afterAll(() => removeTempDirs());
