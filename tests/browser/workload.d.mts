// Types of workload.mjs (a plain ES module so that Node runs it without a TypeScript step).
export interface Values {
  values: number[];
  /** The f32 bits of `values`. */
  bits: number[];
}

export interface WorkloadResult {
  loaded: 'simd' | 'scalar';
  backend: 'simd' | 'scalar' | undefined;
  simdSupported: boolean;
  scalar: Values;
  amsgrad: {
    afterOne: Values;
    afterTwo: Values;
    weightNames: string[];
    iterations: number;
    weights: number[][];
  };
}

export function run(which?: 'auto' | 'simd' | 'scalar'): Promise<WorkloadResult>;
