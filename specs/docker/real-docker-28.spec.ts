// Conformance on the real Docker 28.5.x engine (sid's docker.io, fetched by .ci/fetch-engines.sh): specs/docker/real-engine-suite.ts.
import { realEngineSuite } from './real-engine-suite.js';

realEngineSuite('28');
