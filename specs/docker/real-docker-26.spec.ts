// Conformance on the real Docker 26.1.x engine (trixie's docker.io, fetched by .ci/fetch-engines.sh): specs/docker/real-engine-suite.ts.
import { realEngineSuite } from './real-engine-suite.js';

realEngineSuite('26');
