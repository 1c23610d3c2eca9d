// What this kernel gives a lab, asked once per worker: doctor's kernelFeatures tries each link kind and qdisc INSIDE a
// lab (never on the machine) and keeps the kernel's words. Spec files `await kernel()` at their top, so
// `test.runIf(k.has(X))` is decided when the file is collected, and a test of a subject this kernel cannot run is
// reported as skipped with the reason in its name (needs(X)), never counted as a pass that only saw a PrerequisiteError.
import { KERNEL_FEATURES, kernelFeatures } from '../../src/doctor.js';

/** A feature doctor knows how to try (KERNEL_FEATURES in src/doctor.ts). */
export type KernelFeature = (typeof KERNEL_FEATURES)[number]['feature'];

export interface Kernel {
  /** The kernel gave a lab this feature (the attempt in a lab succeeded). */
  has(feature: KernelFeature): boolean;
  /** " — needs X (module M): this kernel lacks it (its words)" when lacking, " — needs X" when present: for a test's name. */
  needs(feature: KernelFeature): string;
}

let asked: Promise<Kernel> | undefined;

/** The kernel's features, tried once in a lab of its own per worker (files of a worker share it: isolate is off). */
export function kernel(): Promise<Kernel> {
  asked ??= kernelFeatures().then((features) => {
    const get = (feature: string) => {
      const f = features.get(feature);
      if (!f) throw new Error(`doctor tries no kernel feature "${feature}"; it tries: ${KERNEL_FEATURES.map((k) => k.feature).join(', ')}`);
      return f;
    };
    return {
      has: (feature) => get(feature).ok,
      needs: (feature) => {
        const f = get(feature);
        const module = KERNEL_FEATURES.find((k) => k.feature === feature)!.module;
        return f.ok ? ` — needs ${feature}` : ` — needs ${feature} (${module}); SKIPPED here: this kernel lacks it (${f.detail})`;
      },
    };
  });
  return asked;
}
