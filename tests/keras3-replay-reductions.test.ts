// Replays the Keras 3.15.1 trajectories of the Keras 3 classes with reductions or matrix products
// (Lamb, Adafactor, Muon) and ScheduleFreeAdamW through simdopt/keras3: their own fixture file
// and their _base_features.json cases, as whole trajectories and anchored (each step from Keras'
// state), every variable and optimizer variable (Keras' order and paths) within issue 13's
// tolerance (1e-4·max(1,|x|) for Lamb, Adafactor, Muon; 1e-5 for ScheduleFreeAdamW), and what
// build() makes.
import { ready } from 'simdopt';
import { describeReplays, worstDeviations } from './helpers/keras3-replay';

const CLASSES = ['Lamb', 'Adafactor', 'Muon', 'ScheduleFreeAdamW'];

beforeAll(async () => {
  await ready();
});

describeReplays(CLASSES, worstDeviations(), { anchored: true });
