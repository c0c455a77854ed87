// `simdopt/distribute` outside Node: replicas in Web Workers by default.
export { WorkerMirroredStrategy } from './strategy.js';
export * from './common.js';
